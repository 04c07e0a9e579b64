// Tokenizer: added-token splitting, encode/decode, and the tokenizer.json reader and writer.
// Supported tokenizer.json subset (what GPT-2, Qwen2 and our trainer write): model BPE with string or
// pair merges; normalizer null or NFC; pre_tokenizer ByteLevel(use_regex) or Sequence[Split(Regex,
// Isolated), ByteLevel(use_regex=false)]; decoder ByteLevel. Anything else is a TokenizerError
// rather than a silently different tokenisation.
#include "text/tokenizer.h"

#include "data/errors.h"
#include "data/json_read.h"
#include "text/byte_level.h"
#include "text/utf8.h"

#include <algorithm>
#include <fstream>
#include <map>

namespace mod::text {

using data::TokenizerError;
using nlohmann::json;
using nlohmann::ordered_json;

Tokenizer::Tokenizer(Bpe bpe, const std::string& pattern, bool nfc, std::vector<AddedToken> added)
    : bpe_(std::move(bpe)), pre_(pattern), nfc_(nfc), added_(std::move(added)) {
    index_ids();
}

void Tokenizer::index_ids() {
    int32_t max_id = -1;
    for (const auto& [token, id] : bpe_.vocab()) max_id = std::max(max_id, id);
    for (const AddedToken& t : added_) max_id = std::max(max_id, t.id);
    id_bytes_.assign(static_cast<size_t>(max_id + 1), std::string());
    is_special_.assign(static_cast<size_t>(max_id + 1), false);
    for (const auto& [token, id] : bpe_.vocab()) {
        std::string bytes;
        if (!byte_level_decode(token, bytes)) {
            throw TokenizerError("[Tokenizer] vocabulary token \"" + token + "\" is not byte-level");
        }
        id_bytes_[id] = bytes;
    }
    for (const AddedToken& t : added_) {
        id_bytes_[t.id] = t.content;
        is_special_[t.id] = t.special;
    }
    // Longest first, so that when two added tokens start at the same place the longer one wins.
    std::stable_sort(added_.begin(), added_.end(),
                     [](const AddedToken& a, const AddedToken& b) { return a.content.size() > b.content.size(); });
}

void Tokenizer::encode_segment(std::string_view text, size_t base, std::vector<int32_t>& ids,
                               std::vector<TokenSpan>* spans) const {
    std::string normalized;
    std::string_view s = text;
    bool exact_offsets = true;
    if (nfc_) {
        normalized = nfc(text);
        exact_offsets = normalized == text;
        s = normalized;
    }
    std::vector<std::pair<size_t, size_t>> pieces;
    pre_.split(s, pieces);
    for (const auto& [begin, end] : pieces) {
        const size_t first = ids.size();
        bpe_.encode_word(s.substr(begin, end - begin), ids);
        if (spans == nullptr) continue;
        size_t pos = base + begin;
        for (size_t k = first; k < ids.size(); ++k) {
            const size_t len = id_bytes_[ids[k]].size();
            spans->push_back(exact_offsets ? TokenSpan{ids[k], pos, pos + len} : TokenSpan{ids[k], base, base + text.size()});
            pos += len;
        }
    }
}

void Tokenizer::encode_impl(std::string_view text, std::vector<int32_t>& ids, std::vector<TokenSpan>* spans) const {
    if (const size_t bad = find_invalid_utf8(text); bad != std::string_view::npos) {
        throw TokenizerError("[encode] invalid UTF-8 at byte " + std::to_string(bad));
    }
    // Next occurrence of each added token at or after pos (npos when none remains).
    std::vector<size_t> next(added_.size());
    for (size_t k = 0; k < added_.size(); ++k) next[k] = text.find(added_[k].content);
    size_t pos = 0;
    while (pos < text.size()) {
        size_t best = std::string_view::npos, which = 0;
        for (size_t k = 0; k < added_.size(); ++k) {
            if (next[k] != std::string_view::npos && next[k] < pos) next[k] = text.find(added_[k].content, pos);
            if (next[k] < best) best = next[k], which = k;  // ties keep the longer (earlier) token
        }
        const size_t seg_end = std::min(best, text.size());
        if (seg_end > pos) encode_segment(text.substr(pos, seg_end - pos), pos, ids, spans);
        if (best == std::string_view::npos) break;
        ids.push_back(added_[which].id);
        if (spans) spans->push_back({added_[which].id, best, best + added_[which].content.size()});
        pos = best + added_[which].content.size();
    }
}

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
    std::vector<int32_t> ids;
    encode_impl(text, ids, nullptr);
    return ids;
}

std::vector<TokenSpan> Tokenizer::encode_with_offsets(std::string_view text) const {
    std::vector<int32_t> ids;
    std::vector<TokenSpan> spans;
    encode_impl(text, ids, &spans);
    return spans;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special) const {
    std::string out;
    for (int32_t id : ids) {
        if (id < 0 || id >= vocab_size()) {
            throw TokenizerError("[decode] id " + std::to_string(id) + " outside the vocabulary of " +
                                 std::to_string(vocab_size()));
        }
        if (skip_special && is_special_[id]) continue;
        out += id_bytes_[id];
    }
    return out;
}

int32_t Tokenizer::token_id(const std::string& token) const {
    for (const AddedToken& t : added_) {
        if (t.content == token) return t.id;
    }
    auto it = bpe_.vocab().find(token);
    return it == bpe_.vocab().end() ? -1 : it->second;
}

int32_t Tokenizer::require_id(const std::string& token) const {
    const int32_t id = token_id(token);
    if (id < 0) throw TokenizerError("[Tokenizer] the vocabulary has no token \"" + token + "\"");
    return id;
}

int32_t Tokenizer::add_special_token(const std::string& content) {
    if (const int32_t id = token_id(content); id >= 0) return id;
    const int32_t id = vocab_size();
    added_.push_back({id, content, true});
    index_ids();
    return id;
}

// ---- tokenizer.json ----

namespace {

std::string pattern_from(const json& pre, const std::string& where) {
    auto fail = [&](const std::string& what) -> std::string {
        throw TokenizerError("[Tokenizer::load] " + where + ": unsupported pre_tokenizer: " + what);
    };
    if (pre.is_null()) return fail("null (byte-level BPE needs one)");
    const std::string type = pre.value("type", "");
    if (type == "ByteLevel") {
        if (pre.value("add_prefix_space", false)) return fail("ByteLevel add_prefix_space=true");
        return pre.value("use_regex", true) ? kGpt2Pattern : fail("ByteLevel without a regex");
    }
    if (type != "Sequence") return fail(type);
    std::string pattern;
    for (const json& p : pre.at("pretokenizers")) {
        const std::string t = p.value("type", "");
        if (t == "Split") {
            if (p.value("behavior", "") != "Isolated" || p.value("invert", false) || !p.at("pattern").contains("Regex")) {
                return fail("Split other than an Isolated Regex");
            }
            pattern = p["pattern"]["Regex"].get<std::string>();
        } else if (t == "ByteLevel") {
            if (p.value("add_prefix_space", false)) return fail("ByteLevel add_prefix_space=true");
            if (p.value("use_regex", true)) {
                if (!pattern.empty()) return fail("Split followed by a regex ByteLevel");
                pattern = kGpt2Pattern;
            }
        } else {
            return fail(t);
        }
    }
    return pattern.empty() ? fail("no split pattern") : pattern;
}

bool nfc_from(const json& norm, const std::string& where) {
    if (norm.is_null()) return false;
    const std::string type = norm.value("type", "");
    if (type == "NFC") return true;
    if (type == "Sequence" && norm.at("normalizers").empty()) return false;
    throw TokenizerError("[Tokenizer::load] " + where + ": unsupported normalizer " + type);
}

}  // namespace

Tokenizer Tokenizer::from_json(const json& j, const std::string& where) {
    try {
        const json& model = j.at("model");
        if (model.value("type", "BPE") != "BPE") throw TokenizerError("[Tokenizer::load] " + where + ": model is not BPE");
        for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
            if (model.contains(key) && !model[key].is_null() && !model[key].get<std::string>().empty()) {
                throw TokenizerError("[Tokenizer::load] " + where + ": unsupported " + key);
            }
        }
        std::unordered_map<std::string, int32_t> vocab;
        for (const auto& [token, id] : model.at("vocab").items()) vocab[token] = id.get<int32_t>();
        std::vector<std::pair<std::string, std::string>> merges;
        for (const json& m : model.at("merges")) {
            if (m.is_array()) {
                merges.emplace_back(m.at(0).get<std::string>(), m.at(1).get<std::string>());
            } else {
                // "left right": byte-level tokens never contain a space (it is written as U+0120).
                const std::string s = m.get<std::string>();
                const size_t space = s.find(' ');
                if (space == std::string::npos) throw TokenizerError("[Tokenizer::load] " + where + ": bad merge \"" + s + "\"");
                merges.emplace_back(s.substr(0, space), s.substr(space + 1));
            }
        }
        std::vector<AddedToken> added;
        if (j.contains("added_tokens")) {
            for (const json& t : j["added_tokens"]) {
                added.push_back({t.at("id").get<int32_t>(), t.at("content").get<std::string>(), t.value("special", true)});
            }
        }
        Bpe bpe(std::move(vocab), std::move(merges), model.value("ignore_merges", false));
        return Tokenizer(std::move(bpe), pattern_from(j.value("pre_tokenizer", json()), where),
                         nfc_from(j.value("normalizer", json()), where), std::move(added));
    } catch (const json::exception& e) {
        throw TokenizerError("[Tokenizer::load] " + where + ": " + e.what());
    }
}

Tokenizer Tokenizer::load(const std::string& path) {
    return from_json(data::read_json_file(path, "Tokenizer::load"), path);
}

ordered_json Tokenizer::to_json() const {
    const ordered_json byte_level{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}};
    ordered_json added = ordered_json::array();
    std::vector<AddedToken> by_id = added_;
    std::sort(by_id.begin(), by_id.end(), [](const AddedToken& a, const AddedToken& b) { return a.id < b.id; });
    for (const AddedToken& t : by_id) {
        added.push_back({{"id", t.id},          {"content", t.content}, {"single_word", false}, {"lstrip", false},
                         {"rstrip", false},     {"normalized", false},  {"special", t.special}});
    }
    std::map<int32_t, std::string> by_rank;
    for (const auto& [token, id] : bpe_.vocab()) by_rank[id] = token;
    ordered_json vocab = ordered_json::object();
    for (const auto& [id, token] : by_rank) vocab[token] = id;
    ordered_json merges = ordered_json::array();
    for (const auto& [a, b] : bpe_.merges()) merges.push_back(a + " " + b);
    ordered_json model{{"type", "BPE"},
                       {"dropout", nullptr},
                       {"unk_token", nullptr},
                       {"continuing_subword_prefix", ""},
                       {"end_of_word_suffix", ""},
                       {"fuse_unk", false},
                       {"byte_fallback", false},
                       {"ignore_merges", bpe_.ignore_merges()},
                       {"vocab", vocab},
                       {"merges", merges}};
    ordered_json split{{"type", "Split"}, {"pattern", {{"Regex", pre_.pattern()}}}, {"behavior", "Isolated"}, {"invert", false}};
    return ordered_json{{"version", "1.0"},
                        {"truncation", nullptr},
                        {"padding", nullptr},
                        {"added_tokens", added},
                        {"normalizer", nfc_ ? ordered_json{{"type", "NFC"}} : ordered_json()},
                        {"pre_tokenizer", {{"type", "Sequence"}, {"pretokenizers", ordered_json::array({split, byte_level})}}},
                        {"post_processor", byte_level},
                        {"decoder", byte_level},
                        {"model", model}};
}

void Tokenizer::save(const std::string& path) const {
    std::ofstream f(path, std::ios::binary);
    f << to_json().dump(2) << "\n";
    if (!f) throw TokenizerError("[Tokenizer::save] " + path + ": write failed");
}

}  // namespace mod::text
