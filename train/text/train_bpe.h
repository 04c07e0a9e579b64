// Training a byte-level BPE tokenizer (Hugging Face BpeTrainer semantics): count pre-tokens over a
// corpus, start from the 256 byte tokens, and repeatedly merge the most frequent adjacent pair
// (ties: the pair of smaller ids) until the vocabulary is full or no pair occurs min_frequency times.
#pragma once

#include "text/pretokenizer.h"
#include "text/tokenizer.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mod::text {

struct BpeTrainConfig {
    int vocab_size = 1024;  // in all: 256 bytes + merges + special tokens
    int64_t min_frequency = 2;
    std::vector<std::string> special_tokens = {kEndOfText, kImageToken, kPadToken};
    std::string pattern = kQwen2Pattern;
};

// Counts pre-tokens of a corpus streamed text by text; special tokens are cut out, not counted.
class WordCounter {
public:
    explicit WordCounter(const BpeTrainConfig& config);
    void add(std::string_view text);
    const std::unordered_map<std::string, int64_t>& counts() const { return counts_; }

private:
    Pretokenizer pre_;
    std::vector<std::string> specials_;
    std::unordered_map<std::string, int64_t> counts_;
};

// Throws TokenizerError when vocab_size cannot hold the bytes and the special tokens.
Tokenizer train_bpe(const WordCounter& words, const BpeTrainConfig& config);

}  // namespace mod::text
