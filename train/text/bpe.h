// The BPE model of a byte-level tokenizer: vocabulary (byte-level token strings) and ranked merges.
// Encoding a pre-token starts from its bytes and applies the lowest-ranked merge present until
// none applies (GPT-2's bpe(), equal to Hugging Face's BPE::merge_word for byte-level vocabularies).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace mod::text {

class Bpe {
public:
    // vocab: token string -> id; merges in rank order. Throws TokenizerError when a merge names a
    // token that is not in the vocabulary or a byte has no token.
    Bpe(std::unordered_map<std::string, int32_t> vocab, std::vector<std::pair<std::string, std::string>> merges,
        bool ignore_merges);

    // Appends the ids of one pre-token (raw bytes).
    void encode_word(std::string_view bytes, std::vector<int32_t>& out) const;

    const std::unordered_map<std::string, int32_t>& vocab() const { return vocab_; }
    const std::vector<std::pair<std::string, std::string>>& merges() const { return merges_; }
    bool ignore_merges() const { return ignore_merges_; }

private:
    struct Merge {
        int32_t rank;
        int32_t id;
    };
    static uint64_t key(int32_t a, int32_t b) { return (static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b); }

    std::unordered_map<std::string, int32_t> vocab_;
    std::vector<std::pair<std::string, std::string>> merges_;
    bool ignore_merges_;
    std::array<int32_t, 256> byte_id_{};
    std::unordered_map<uint64_t, Merge> merge_of_;  // (left id, right id) -> rank and merged id
};

}  // namespace mod::text
