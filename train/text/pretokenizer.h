// Splits text into pre-tokens with a regular expression (PCRE2, UTF + Unicode properties), as
// Hugging Face's Split pre-tokenizer does with behaviour "Isolated": every match is a piece and so
// is any text between matches. BPE merges never cross a piece boundary.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct pcre2_real_code_8;

namespace mod::text {

// Qwen2's split pattern (tokenizer.json of Qwen/Qwen2-*).
inline constexpr const char* kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// GPT-2's pattern (the ByteLevel pre-tokenizer with use_regex = true).
inline constexpr const char* kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class Pretokenizer {
public:
    // Throws TokenizerError naming the position of a bad pattern.
    explicit Pretokenizer(const std::string& pattern);

    // Appends the [begin, end) byte ranges of the pieces of `text` (valid UTF-8), in order; they
    // tile the text exactly.
    void split(std::string_view text, std::vector<std::pair<size_t, size_t>>& pieces) const;

    const std::string& pattern() const { return pattern_; }

private:
    struct CodeDeleter {
        void operator()(pcre2_real_code_8* code) const;
    };
    std::string pattern_;
    std::unique_ptr<pcre2_real_code_8, CodeDeleter> code_;
};

}  // namespace mod::text
