// Parsing and validating LLaVA samples, one array element at a time (json_read.h).
#include "data/conversation.h"

#include "data/errors.h"
#include "data/json_read.h"

#include <algorithm>
#include <filesystem>
#include <functional>

namespace mod::data {

namespace {

using nlohmann::json;

constexpr size_t kKeptErrors = 10;
constexpr const char* kImageTag = "<image>";

std::string sample_id(const json& j, size_t index) {
    if (j.is_object() && j.contains("id")) {
        const json& id = j["id"];
        return id.is_string() ? id.get<std::string>() : id.dump();
    }
    return "#" + std::to_string(index);
}

size_t count_tags(const std::string& s) {
    size_t n = 0;
    for (size_t at = s.find(kImageTag); at != std::string::npos; at = s.find(kImageTag, at + 1)) ++n;
    return n;
}

bool has_tag(const std::vector<Message>& messages) {
    for (const Message& m : messages) {
        if (count_tags(m.value) > 0) return true;
    }
    return false;
}

std::vector<Message> parse_messages(const json& list, const char* field) {
    if (!list.is_array()) throw JsonError(std::string("\"") + field + "\" is not a list");
    std::vector<Message> out;
    for (size_t i = 0; i < list.size(); ++i) {
        const json& m = list[i];
        if (!m.is_object() || !m.contains("from") || !m["from"].is_string() || !m.contains("value") || !m["value"].is_string()) {
            throw JsonError(std::string(field) + "[" + std::to_string(i) + "]: expected {\"from\": string, \"value\": string}");
        }
        const std::string from = m["from"];
        if (from != "human" && from != "gpt") {
            throw JsonError(std::string(field) + "[" + std::to_string(i) + "]: unknown role \"" + from +
                            "\" (expected \"human\" or \"gpt\")");
        }
        out.push_back({from == "human" ? Role::human : Role::gpt, m["value"].get<std::string>()});
    }
    return out;
}

std::string resolve_image(const json& j, const std::string& root) {
    if (!j.contains("image") || j["image"].is_null()) return "";
    if (!j["image"].is_string()) throw JsonError("\"image\" is not a string");
    return (std::filesystem::path(root) / j["image"].get<std::string>()).string();
}

Sample parse_conversation(const json& j) {
    if (!j.contains("conversations")) throw JsonError("no \"conversations\" list");
    Sample s;
    s.messages = parse_messages(j["conversations"], "conversations");
    return s;
}

Sample parse_preference(const json& j) {
    if (!j.contains("chosen") || !j.contains("rejected")) throw JsonError("needs \"chosen\" and \"rejected\"");
    Sample s;
    s.messages = parse_messages(j["chosen"], "chosen");
    s.rejected = parse_messages(j["rejected"], "rejected");
    if (s.messages.empty() || s.rejected.empty()) throw JsonError("empty conversation in \"chosen\" or \"rejected\"");
    // The pair must differ only in the final answer: DPO compares two answers to one prompt.
    bool same_prompt = s.messages.size() == s.rejected.size();
    for (size_t i = 0; same_prompt && i + 1 < s.messages.size(); ++i) {
        same_prompt = s.messages[i].role == s.rejected[i].role && s.messages[i].value == s.rejected[i].value;
    }
    if (!same_prompt) throw JsonError("\"chosen\" and \"rejected\" have different prompts");
    return s;
}

// Converts one element of a file; throws JsonError "sample \"<id>\": <reason>".
Sample to_sample(const json& j, size_t index, SampleKind kind, const std::string& image_root) {
    const std::string id = sample_id(j, index);
    try {
        if (!j.is_object()) throw JsonError("expected an object");
        const bool is_pair = kind == SampleKind::preference || (kind == SampleKind::any && !j.contains("conversations"));
        Sample s = is_pair ? parse_preference(j) : parse_conversation(j);
        s.id = id;
        s.image = resolve_image(j, image_root);
        if (j.contains("task")) {
            if (!j["task"].is_string()) throw JsonError("\"task\" is not a string");
            s.task = j["task"].get<std::string>();
        }
        for (std::vector<Message>* list : {&s.messages, &s.rejected}) {
            if (list == &s.rejected && !is_pair) continue;
            validate_messages(*list, !s.image.empty());
            // An image without a tag goes first, as LLaVA places it.
            if (!s.image.empty() && !has_tag(*list)) (*list)[0].value = with_image_tag((*list)[0].value, false);
        }
        return s;
    } catch (const JsonError& e) {
        throw JsonError("sample \"" + id + "\": " + e.what());
    }
}

std::string image_root_of(const std::string& file, const LoadOptions& options) {
    return options.image_root.empty() ? std::filesystem::path(file).parent_path().string() : options.image_root;
}

const char* where_of(SampleKind kind) {
    switch (kind) {
        case SampleKind::conversation: return "load_conversations";
        case SampleKind::preference: return "load_preferences";
        default: return "load_samples";
    }
}

std::vector<Sample> load_all(const std::vector<std::string>& files, SampleKind kind, const LoadOptions& options,
                             LoadReport* report) {
    std::vector<Sample> out;
    for (const std::string& file : files) {
        for_each_sample(file, kind, options, report, [&](Sample&& s, const JsonElement&) { out.push_back(std::move(s)); });
    }
    return out;
}

}  // namespace

const char* role_name(Role r) { return r == Role::human ? "human" : "gpt"; }

std::string with_image_tag(const std::string& question, bool after_question) {
    if (!after_question) return std::string(kImageTag) + "\n" + question;
    const size_t line_end = question.find('\n');
    if (line_end == std::string::npos) return question + "\n" + kImageTag;
    return question.substr(0, line_end) + "\n" + kImageTag + question.substr(line_end);
}

void validate_messages(const std::vector<Message>& messages, bool has_image) {
    if (messages.empty()) throw JsonError("empty conversation");
    size_t tags = 0;
    for (size_t i = 0; i < messages.size(); ++i) {
        const Role expected = i % 2 == 0 ? Role::human : Role::gpt;
        if (messages[i].role != expected) {
            throw JsonError("message " + std::to_string(i) + " is from \"" + role_name(messages[i].role) +
                            "\"; turns must alternate human, gpt, ...");
        }
        const size_t here = count_tags(messages[i].value);
        if (here > 0 && expected == Role::gpt)
            throw JsonError("message " + std::to_string(i) + " is a gpt answer with <image>; the image is shown in human turns");
        tags += here;
    }
    if (messages.back().role != Role::gpt) throw JsonError("the conversation ends without a gpt answer");
    if (tags > 0 && !has_image) throw JsonError("<image> in the text but the sample has no \"image\"");
}

void for_each_sample(const std::string& file, SampleKind kind, const LoadOptions& options, LoadReport* report,
                     const std::function<void(Sample&&, const JsonElement&)>& on_sample) {
    LoadReport local;
    LoadReport& r = report ? *report : local;
    const std::string root = image_root_of(file, options);
    const char* where = where_of(kind);
    scan_json_array(file, where, [&](const JsonElement& element) {
        const json j = parse_json_element(file, where, element);  // malformed JSON is never skipped
        Sample s;
        try {
            s = to_sample(j, element.index, kind, root);
        } catch (const JsonError& e) {
            if (!options.skip_bad) throw json_error_at(where, file, element.offset, e.what());
            ++r.skipped;
            if (r.first_errors.size() < kKeptErrors) r.first_errors.push_back(file + ": " + e.what());
            return;
        }
        if (!options.tasks.empty() && std::find(options.tasks.begin(), options.tasks.end(), s.task) == options.tasks.end())
            return;
        ++r.loaded;
        on_sample(std::move(s), element);
    });
}

Sample sample_from_element(const std::string& file, SampleKind kind, const LoadOptions& options,
                           const JsonElement& element) {
    const char* where = where_of(kind);
    const json j = parse_json_element(file, where, element);
    try {
        return to_sample(j, element.index, kind, image_root_of(file, options));
    } catch (const JsonError& e) {
        throw json_error_at(where, file, element.offset, e.what());
    }
}

std::vector<Sample> load_conversations(const std::vector<std::string>& files, const LoadOptions& options, LoadReport* report) {
    return load_all(files, SampleKind::conversation, options, report);
}

std::vector<Sample> load_preferences(const std::vector<std::string>& files, const LoadOptions& options, LoadReport* report) {
    return load_all(files, SampleKind::preference, options, report);
}

}  // namespace mod::data
