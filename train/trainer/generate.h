// Generation with an MLLM: the prompt of a conversation (chat template, <image> expanded to P
// positions), an image file as the model's pixel tensor, and token-by-token decoding with one KV
// cache per LM layer (the prompt runs once, then one token per step), greedy or sampled.
// Token ids are int64, as the model's input_ids; batch size 1 throughout.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/chat_template.h"
#include "data/conversation.h"
#include "models/mllm.h"
#include "text/tokenizer.h"

namespace mod::train {

// The ids of the generation prompt for `messages` (alternating turns, the last a human turn): the
// template's text ending with "ASSISTANT:", tokenised, each <image> (if any) expanded into
// image_tokens copies of the tokenizer's <image> id (a block). Throws ValueError on a bad message list.
std::vector<int64_t> prompt_ids(const std::vector<data::Message>& messages, const text::Tokenizer& tok,
                                int64_t image_tokens, const data::ChatTemplate& chat = {});

// The same for a model, in the template it was trained with (its system line):
// P = config.vision.num_patches(); checks that the tokenizer's <image> id is the model's
// image_token_id (a mismatch would feed image features to the wrong positions).
std::vector<int64_t> prompt_ids(const models::LlavaModel& model, const std::vector<data::Message>& messages,
                                const text::Tokenizer& tok);

// Reads a PNG or JPEG and preprocesses it with the model's image size, mean and std -> (1, 3, S, S)
// float32. Throws data::ImageError naming the file.
Tensor load_image_tensor(const std::string& path, const models::VisionConfig& vision);

struct GenerateOptions {
    int64_t max_new_tokens = 128;
    double temperature = 0.0;  // 0: greedy (argmax); > 0: sample from softmax(logits / temperature)
    double top_p = 1.0;        // nucleus: sample among the most probable tokens whose mass reaches top_p
    uint64_t seed = 0;         // the sampler's Generator: same seed, same prompt -> same tokens
    int64_t stop_id = -1;      // generation ends after this id (<|endoftext|>); -1: only max_new_tokens
    // Ids at or above this are never generated: a model vocabulary padded beyond the tokenizer's
    // holds ids the tokenizer cannot decode. 0: the model's whole vocabulary.
    int64_t vocab_size = 0;
    // false recomputes the whole sequence at every step: slow, the reference the cache is tested against.
    bool use_cache = true;
    // Called with each new id as soon as it is chosen (the stop id included), for streaming.
    std::function<void(int64_t id)> on_token;
};

struct GenerateResult {
    std::vector<int64_t> ids;  // the new ids, the stop id (when reached) included
    bool stopped = false;      // ended at stop_id rather than max_new_tokens
    int64_t prompt_tokens = 0;
    double prefill_seconds = 0;  // the prompt's forward (vision encoder included)
    int64_t decode_steps = 0;    // one-token forwards after the prompt
    double decode_seconds = 0;
    double tokens_per_second() const { return decode_seconds > 0 ? decode_steps / decode_seconds : 0.0; }
    std::vector<int64_t> answer_ids() const;  // ids without the stop id
};

// Defaults for a model and its tokenizer: stop at <|endoftext|>, never emit ids the tokenizer lacks.
GenerateOptions default_options(const models::LlavaModel& model, const text::Tokenizer& tok);

// prompt: ids as prompt_ids() builds them; pixels (1, 3, S, S) or undefined for a text-only prompt.
// The image is shown in each of the prompt's image blocks.
// Runs under NoGradGuard. The <image> id is never generated (its logit is masked): it would ask for
// image features that do not exist. Throws ValueError on bad options.
GenerateResult generate(const models::LlavaModel& model, const std::vector<int64_t>& prompt, const Tensor& pixels,
                        const GenerateOptions& options);

// Decodes model ids to text (special tokens such as <|endoftext|> skipped).
std::string decode_ids(const text::Tokenizer& tok, const std::vector<int64_t>& ids);

}  // namespace mod::train
