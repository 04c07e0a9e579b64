// Incremental BPE training: pair counts with a max-heap of (count, pair) and lazy invalidation (an
// entry is used only if its count is still current), and an index pair -> words containing it, so
// each merge touches only the words it changes.
#include "text/train_bpe.h"

#include "data/errors.h"
#include "text/byte_level.h"
#include "text/utf8.h"

#include <algorithm>
#include <queue>
#include <unordered_set>

namespace mod::text {

namespace {

using Pair = std::pair<int32_t, int32_t>;

uint64_t pair_key(Pair p) { return (static_cast<uint64_t>(p.first) << 32) | static_cast<uint32_t>(p.second); }
Pair key_pair(uint64_t k) { return {static_cast<int32_t>(k >> 32), static_cast<int32_t>(k & 0xffffffffu)}; }

struct HeapEntry {
    int64_t count;
    Pair pair;
    // Max-heap on count; among equal counts the smaller pair comes out first.
    bool operator<(const HeapEntry& o) const { return count != o.count ? count < o.count : pair > o.pair; }
};

struct Word {
    std::vector<int32_t> syms;
    int64_t count;
};

}  // namespace

WordCounter::WordCounter(const BpeTrainConfig& config) : pre_(config.pattern), specials_(config.special_tokens) {}

void WordCounter::add(std::string_view text) {
    if (const size_t bad = find_invalid_utf8(text); bad != std::string_view::npos) {
        throw data::TokenizerError("[train_bpe] invalid UTF-8 at byte " + std::to_string(bad));
    }
    // Cut out special tokens: they are added whole, never learnt from pieces.
    size_t pos = 0;
    std::vector<std::pair<size_t, size_t>> pieces;
    while (pos <= text.size()) {
        size_t cut = std::string_view::npos, len = 0;
        for (const std::string& s : specials_) {
            const size_t at = text.find(s, pos);
            if (at < cut) cut = at, len = s.size();
        }
        const std::string_view segment = text.substr(pos, (cut == std::string_view::npos ? text.size() : cut) - pos);
        pieces.clear();
        pre_.split(segment, pieces);
        for (const auto& [b, e] : pieces) ++counts_[std::string(segment.substr(b, e - b))];
        if (cut == std::string_view::npos) break;
        pos = cut + len;
    }
}

Tokenizer train_bpe(const WordCounter& counter, const BpeTrainConfig& config) {
    const int n_special = static_cast<int>(config.special_tokens.size());
    if (config.vocab_size < 256 + n_special) {
        throw data::TokenizerError("[train_bpe] vocab_size " + std::to_string(config.vocab_size) + " is below 256 bytes + " +
                                   std::to_string(n_special) + " special tokens");
    }
    // Ids 0..255: the byte tokens in GPT-2's order.
    std::vector<std::string> tokens;
    std::unordered_map<std::string, int32_t> vocab;
    std::array<int32_t, 256> byte_id{};
    for (unsigned char b : byte_order()) {
        byte_id[b] = static_cast<int32_t>(tokens.size());
        vocab[byte_chars()[b]] = byte_id[b];
        tokens.push_back(byte_chars()[b]);
    }
    // Words in sorted order, so training does not depend on hash-map iteration order.
    std::vector<std::pair<std::string, int64_t>> sorted(counter.counts().begin(), counter.counts().end());
    std::sort(sorted.begin(), sorted.end());
    std::vector<Word> words;
    for (const auto& [text, count] : sorted) {
        Word w{{}, count};
        for (unsigned char c : text) w.syms.push_back(byte_id[c]);
        if (w.syms.size() > 1) words.push_back(std::move(w));
    }

    std::unordered_map<uint64_t, int64_t> pair_count;
    std::unordered_map<uint64_t, std::unordered_set<size_t>> where;
    auto add_pairs = [&](size_t wi, int64_t sign) {
        const Word& w = words[wi];
        for (size_t i = 0; i + 1 < w.syms.size(); ++i) {
            const uint64_t k = pair_key({w.syms[i], w.syms[i + 1]});
            pair_count[k] += sign * w.count;
            if (sign > 0) where[k].insert(wi);
        }
    };
    for (size_t wi = 0; wi < words.size(); ++wi) add_pairs(wi, +1);
    std::priority_queue<HeapEntry> heap;
    for (const auto& [k, c] : pair_count) heap.push({c, key_pair(k)});

    std::vector<std::pair<std::string, std::string>> merges;
    const size_t target = static_cast<size_t>(config.vocab_size - n_special);
    while (tokens.size() < target && !heap.empty()) {
        const HeapEntry top = heap.top();
        heap.pop();
        const uint64_t k = pair_key(top.pair);
        const int64_t current = pair_count[k];
        if (current != top.count) {
            if (current > 0) heap.push({current, top.pair});  // stale: requeue with the true count
            continue;
        }
        if (current < config.min_frequency) break;
        // Two merge paths can spell the same token ("ab"+"c", "a"+"bc"): it keeps its first id.
        const std::string merged = tokens[top.pair.first] + tokens[top.pair.second];
        auto [slot, is_new] = vocab.emplace(merged, static_cast<int32_t>(tokens.size()));
        const int32_t new_id = slot->second;
        if (is_new) tokens.push_back(merged);
        merges.emplace_back(tokens[top.pair.first], tokens[top.pair.second]);
        // Re-count only the words that contain the pair: remove their pairs, merge, add them back.
        std::vector<size_t> affected(where[k].begin(), where[k].end());
        std::sort(affected.begin(), affected.end());
        for (size_t wi : affected) {
            add_pairs(wi, -1);
            std::vector<int32_t>& s = words[wi].syms;
            size_t w = 0;
            for (size_t i = 0; i < s.size(); ++i) {
                if (i + 1 < s.size() && s[i] == top.pair.first && s[i + 1] == top.pair.second) {
                    s[w++] = new_id;
                    ++i;
                } else {
                    s[w++] = s[i];
                }
            }
            s.resize(w);
            add_pairs(wi, +1);
            for (size_t i = 0; i + 1 < s.size(); ++i) {
                const uint64_t pk = pair_key({s[i], s[i + 1]});
                if (s[i] == new_id || s[i + 1] == new_id) heap.push({pair_count[pk], {s[i], s[i + 1]}});
            }
        }
        // Pairs that lost counts keep stale heap entries, which are requeued when they surface.
        pair_count.erase(k);
        where.erase(k);
    }

    std::vector<AddedToken> added;
    for (const std::string& s : config.special_tokens) added.push_back({static_cast<int32_t>(tokens.size() + added.size()), s, true});
    return Tokenizer(Bpe(std::move(vocab), std::move(merges), false), config.pattern, false, std::move(added));
}

}  // namespace mod::text
