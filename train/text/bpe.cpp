// BPE encoding by repeated lowest-rank merge over a small vector of ids (pre-tokens are short).
#include "text/bpe.h"

#include "data/errors.h"
#include "text/byte_level.h"

#include <climits>

namespace mod::text {

Bpe::Bpe(std::unordered_map<std::string, int32_t> vocab, std::vector<std::pair<std::string, std::string>> merges,
         bool ignore_merges)
    : vocab_(std::move(vocab)), merges_(std::move(merges)), ignore_merges_(ignore_merges) {
    for (int b = 0; b < 256; ++b) {
        auto it = vocab_.find(byte_chars()[b]);
        if (it == vocab_.end()) {
            throw data::TokenizerError("[Bpe] the vocabulary lacks the byte-level token for byte " + std::to_string(b));
        }
        byte_id_[b] = it->second;
    }
    merge_of_.reserve(merges_.size());
    for (size_t r = 0; r < merges_.size(); ++r) {
        const auto& [left, right] = merges_[r];
        auto a = vocab_.find(left), b = vocab_.find(right), ab = vocab_.find(left + right);
        if (a == vocab_.end() || b == vocab_.end() || ab == vocab_.end()) {
            throw data::TokenizerError("[Bpe] merge " + std::to_string(r) + " \"" + left + " " + right +
                                       "\" uses a token missing from the vocabulary");
        }
        // The first (lowest-rank) merge of a pair wins, as in Hugging Face's loader.
        merge_of_.emplace(key(a->second, b->second), Merge{static_cast<int32_t>(r), ab->second});
    }
}

void Bpe::encode_word(std::string_view bytes, std::vector<int32_t>& out) const {
    if (ignore_merges_) {
        // Llama-3 style: a pre-token that is itself a token is taken whole.
        std::string chars;
        for (unsigned char c : bytes) chars += byte_chars()[c];
        if (auto it = vocab_.find(chars); it != vocab_.end()) {
            out.push_back(it->second);
            return;
        }
    }
    std::vector<int32_t> syms;
    syms.reserve(bytes.size());
    for (unsigned char c : bytes) syms.push_back(byte_id_[c]);
    while (syms.size() > 1) {
        int32_t best_rank = INT32_MAX, best_id = -1;
        uint64_t best_key = 0;
        for (size_t i = 0; i + 1 < syms.size(); ++i) {
            auto it = merge_of_.find(key(syms[i], syms[i + 1]));
            if (it != merge_of_.end() && it->second.rank < best_rank) {
                best_rank = it->second.rank;
                best_id = it->second.id;
                best_key = it->first;
            }
        }
        if (best_id < 0) break;
        // Merge every occurrence of the best pair, left to right.
        size_t w = 0;
        for (size_t i = 0; i < syms.size(); ++i) {
            if (i + 1 < syms.size() && key(syms[i], syms[i + 1]) == best_key) {
                syms[w++] = best_id;
                ++i;
            } else {
                syms[w++] = syms[i];
            }
        }
        syms.resize(w);
    }
    out.insert(out.end(), syms.begin(), syms.end());
}

}  // namespace mod::text
