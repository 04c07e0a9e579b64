// LLaVA-format samples in memory, and their loading from JSON (METHOD.md §3):
//   conversations: [{"id", "image"?, "task"?, "conversations": [{"from": "human"|"gpt", "value"}, ...]}, ...]
//   preference:    [{"id", "image"?, "chosen": [human, gpt], "rejected": [human, gpt]}, ...]
// A sample with an image but no <image> tag gets one before its first message, as LLaVA does.
// Files are streamed (one sample in memory while parsing). Errors are JsonError naming the file,
// line and column and the sample id; with skip_bad a bad sample is counted and left out instead.
#pragma once

#include "data/json_array_scan.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace mod::data {

enum class Role { human, gpt };

struct Message {
    Role role;
    std::string value;
};

// One training example: a conversation, or a preference pair (then `rejected` holds the same
// prompt turns with the rejected final answer, and `messages` the chosen one).
struct Sample {
    std::string id;
    std::string image;  // resolved path (root / relative path); empty for a text-only sample
    std::vector<Message> messages;
    std::vector<Message> rejected;
    std::string task{};  // the record's "task" (the world's multi-task questions name their type); may be empty
};

struct LoadOptions {
    bool skip_bad = false;
    // Keep only the samples whose "task" is one of these (empty: every sample). Samples left out
    // are neither loaded nor skipped; bad ones are still errors.
    std::vector<std::string> tasks;
    std::string image_root;  // image paths are relative to this; empty: the JSON file's folder
};

struct LoadReport {
    int64_t loaded = 0;
    int64_t skipped = 0;
    std::vector<std::string> first_errors;  // the first few messages of skipped samples
};

// Several files at once, in order. Throws JsonError (unless skip_bad covers it).
std::vector<Sample> load_conversations(const std::vector<std::string>& files, const LoadOptions& options,
                                       LoadReport* report = nullptr);
std::vector<Sample> load_preferences(const std::vector<std::string>& files, const LoadOptions& options,
                                     LoadReport* report = nullptr);

enum class SampleKind { conversation, preference, any };  // any: told apart by "conversations"

// Streams one file, calling on_sample for each valid sample with the element of the file it was read
// from (memory: one sample at a time).
void for_each_sample(const std::string& file, SampleKind kind, const LoadOptions& options, LoadReport* report,
                     const std::function<void(Sample&&, const JsonElement&)>& on_sample);

// Reads one sample again from its element (the bytes read back at the offset for_each_sample gave):
// the same sample, or the same JsonError, as for_each_sample without skip_bad.
Sample sample_from_element(const std::string& file, SampleKind kind, const LoadOptions& options,
                           const JsonElement& element);

// Checks a message list: non-empty, roles alternate human/gpt starting with human and ending with
// gpt, and <image> only in human turns of a sample with an image (which is shown at each of its
// tags: "Is the red circle<image> above the blue square<image>?"). Throws JsonError with the reason
// (without file position).
void validate_messages(const std::vector<Message>& messages, bool has_image);

// The first human turn about an image: "<image>\n" + question, LLaVA's usual order, or with
// after_question the question's first line, the tag, then the rest ("Q\n<image>\nsuffix").
// After the question, the image positions can attend to the words that name what is asked
// about (attention is causal), so each can mark whether it shows that shape; the answer then
// only has to find the marked position. Before it, the answer itself must match the named
// shape against every image position, which a small model did not learn (docs/RESULTS.md).
std::string with_image_tag(const std::string& question, bool after_question);

const char* role_name(Role r);

}  // namespace mod::data
