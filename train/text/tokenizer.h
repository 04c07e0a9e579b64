// A byte-level BPE tokenizer (GPT-2 / Qwen2 style) that reads and writes Hugging Face's
// tokenizer.json. Encoding: split off added tokens (never split themselves) -> NFC when the file
// asks for it -> regex pre-tokenisation -> BPE per piece. Decoding concatenates each token's bytes,
// so encode-then-decode returns the input exactly (NFC aside).
#pragma once

#include "text/bpe.h"
#include "text/pretokenizer.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mod::text {

struct AddedToken {
    int32_t id = 0;
    std::string content;
    bool special = true;
};

// A token and the bytes [begin, end) of the input it came from.
struct TokenSpan {
    int32_t id;
    size_t begin;
    size_t end;
};

// The special tokens of this project.
inline constexpr const char* kEndOfText = "<|endoftext|>";
inline constexpr const char* kImageToken = "<image>";
inline constexpr const char* kPadToken = "<|pad|>";

class Tokenizer {
public:
    Tokenizer(Bpe bpe, const std::string& pattern, bool nfc, std::vector<AddedToken> added);

    // Reads a tokenizer.json; errors name the path (and line:column for malformed JSON).
    static Tokenizer load(const std::string& path);
    static Tokenizer from_json(const nlohmann::json& j, const std::string& where);
    nlohmann::ordered_json to_json() const;
    void save(const std::string& path) const;

    // Throws TokenizerError on invalid UTF-8.
    std::vector<int32_t> encode(std::string_view text) const;
    // Offsets refer to `text`; where NFC changed a segment, its tokens all carry the segment's span.
    std::vector<TokenSpan> encode_with_offsets(std::string_view text) const;
    // Throws TokenizerError on an unknown id.
    std::string decode(const std::vector<int32_t>& ids, bool skip_special = false) const;

    // -1 when absent. Looks at added tokens first, then the BPE vocabulary.
    int32_t token_id(const std::string& token) const;
    // Throws TokenizerError naming the token when absent.
    int32_t require_id(const std::string& token) const;
    // Adds a special token after the current vocabulary unless present; returns its id (how LLaVA
    // adds <image> to a tokenizer that lacks it).
    int32_t add_special_token(const std::string& content);

    int32_t vocab_size() const { return static_cast<int32_t>(id_bytes_.size()); }
    bool normalizes_nfc() const { return nfc_; }
    const std::vector<AddedToken>& added_tokens() const { return added_; }

private:
    void encode_segment(std::string_view text, size_t base, std::vector<int32_t>& ids, std::vector<TokenSpan>* spans) const;
    void encode_impl(std::string_view text, std::vector<int32_t>& ids, std::vector<TokenSpan>* spans) const;
    void index_ids();

    Bpe bpe_;
    Pretokenizer pre_;
    bool nfc_;
    std::vector<AddedToken> added_;
    std::vector<std::string> id_bytes_;  // id -> the bytes it decodes to
    std::vector<bool> is_special_;
};

}  // namespace mod::text
