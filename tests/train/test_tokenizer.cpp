// The byte-level BPE tokenizer: exact round trips (random UTF-8, the world corpus), special tokens,
// the Qwen2 split regex, tokenizer.json save/load, NFC, hand-checked merges and training.
#include "data/chat_template.h"
#include "data/conversation.h"
#include "data/errors.h"
#include "data/rng.h"
#include "data/world.h"
#include "temp_dir.h"
#include "text/pretokenizer.h"
#include "text/tokenizer.h"
#include "text/train_bpe.h"
#include "text/utf8.h"

#include <gtest/gtest.h>

#include <fstream>

namespace {

using mod::test::TempDir;
using namespace mod::text;

std::vector<std::string> world_corpus(const TempDir& dir) {
    mod::data::WorldConfig c;
    c.out = dir.str("world");
    c.images = 200;
    c.test_images = 0;
    c.preference_pairs = 100;
    mod::data::write_world(c);
    std::vector<std::string> texts;
    const mod::data::ChatTemplate chat;
    for (const char* f : {"general.json", "multitask.json", "preference.json"}) {
        mod::data::for_each_sample(dir.str(std::string("world/train/") + f), mod::data::SampleKind::any, {}, nullptr,
                                   [&](mod::data::Sample&& s, const mod::data::JsonElement&) {
                                       texts.push_back(mod::data::apply_chat_template(s.messages, chat).text);
                                       if (!s.rejected.empty()) texts.push_back(mod::data::apply_chat_template(s.rejected, chat).text);
                                   });
    }
    return texts;
}

Tokenizer train_on(const std::vector<std::string>& texts, int vocab_size) {
    BpeTrainConfig config;
    config.vocab_size = vocab_size;
    WordCounter counter(config);
    for (const std::string& t : texts) counter.add(t);
    return train_bpe(counter, config);
}

// Random valid UTF-8 mixing ASCII, whitespace, Latin-1, combining marks, CJK, emoji and specials.
std::string random_utf8(mod::data::Rng& rng) {
    static const std::vector<std::pair<char32_t, char32_t>> ranges = {
        {0x20, 0x7e}, {0x09, 0x0d}, {0xa0, 0xff}, {0x300, 0x36f}, {0x400, 0x4ff}, {0x4e00, 0x9fff},
        {0x1f600, 0x1f64f}, {0x10000, 0x10ffff}, {0x00, 0x1f}};
    std::string s;
    const int n = rng.range(0, 40);
    for (int i = 0; i < n; ++i) {
        if (rng.percent(3)) {
            s += rng.percent(50) ? "<|endoftext|>" : "<image>";
            continue;
        }
        const auto& [lo, hi] = ranges[rng.below(ranges.size())];
        char32_t cp = lo + static_cast<char32_t>(rng.below(hi - lo + 1));
        if (cp >= 0xd800 && cp <= 0xdfff) cp = 'x';
        s += encode_utf8(cp);
    }
    return s;
}

class TokenizerOnWorld : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = std::make_unique<TempDir>();
        corpus_ = world_corpus(*dir_);
        tok_ = std::make_unique<Tokenizer>(train_on(corpus_, 1024));
    }
    static void TearDownTestSuite() {
        tok_.reset();
        dir_.reset();
    }
    static inline std::unique_ptr<TempDir> dir_;
    static inline std::vector<std::string> corpus_;
    static inline std::unique_ptr<Tokenizer> tok_;
};

TEST_F(TokenizerOnWorld, RoundTripsTheWorldCorpus) {
    size_t tokens = 0, bytes = 0;
    for (const std::string& text : corpus_) {
        const std::vector<int32_t> ids = tok_->encode(text);
        ASSERT_EQ(tok_->decode(ids), text);
        tokens += ids.size();
        bytes += text.size();
    }
    // The trained merges must compress the corpus they were trained on (plain bytes would be 1.0).
    EXPECT_LT(static_cast<double>(tokens) / static_cast<double>(bytes), 0.3);
}

TEST_F(TokenizerOnWorld, RoundTripsRandomUtf8) {
    mod::data::Rng rng(42);
    for (int i = 0; i < 3000; ++i) {
        const std::string s = random_utf8(rng);
        ASSERT_EQ(tok_->decode(tok_->encode(s)), s) << "case " << i;
    }
}

TEST_F(TokenizerOnWorld, SpecialTokensAreNeverSplit) {
    const int32_t eot = tok_->require_id(kEndOfText), image = tok_->require_id(kImageToken);
    const std::vector<int32_t> ids = tok_->encode("<image>\nHi<|endoftext|><|endoftext|>x<image");
    EXPECT_EQ(ids.front(), image);
    EXPECT_EQ(std::count(ids.begin(), ids.end(), eot), 2);
    EXPECT_EQ(std::count(ids.begin(), ids.end(), image), 1);  // the unclosed "<image" is plain text
    EXPECT_EQ(tok_->decode(ids, /*skip_special=*/true), "\nHix<image");
}

TEST_F(TokenizerOnWorld, OffsetsTileTheText) {
    const std::string text = corpus_.front();
    size_t pos = 0;
    for (const TokenSpan& t : tok_->encode_with_offsets(text)) {
        EXPECT_EQ(t.begin, pos);
        EXPECT_EQ(tok_->decode({t.id}), text.substr(t.begin, t.end - t.begin));
        pos = t.end;
    }
    EXPECT_EQ(pos, text.size());
}

TEST_F(TokenizerOnWorld, SaveLoadKeepsEveryId) {
    const std::string path = dir_->str("tokenizer.json");
    tok_->save(path);
    const Tokenizer loaded = Tokenizer::load(path);
    EXPECT_EQ(loaded.vocab_size(), tok_->vocab_size());
    EXPECT_EQ(loaded.to_json().dump(), tok_->to_json().dump());
    for (size_t i = 0; i < corpus_.size(); i += 7) EXPECT_EQ(loaded.encode(corpus_[i]), tok_->encode(corpus_[i]));
}

TEST_F(TokenizerOnWorld, TrainingIsDeterministic) {
    EXPECT_EQ(train_on(corpus_, 600).to_json().dump(), train_on(corpus_, 600).to_json().dump());
    EXPECT_EQ(train_on(corpus_, 600).vocab_size(), 600);
}

TEST(Pretokenizer, SplitsLikeQwen2) {
    const Pretokenizer pre(kQwen2Pattern);
    const std::string text = "Hello, world's 123  foo\n\nbar h\xc3\xa9llo \xe6\x97\xa5\xe6\x9c\xac";
    std::vector<std::pair<size_t, size_t>> pieces;
    pre.split(text, pieces);
    std::vector<std::string> got;
    for (const auto& [b, e] : pieces) got.push_back(text.substr(b, e - b));
    const std::vector<std::string> want = {"Hello", ",", " world", "'s", " ", "1", "2", "3", " ", " foo", "\n\n",
                                           "bar", " h\xc3\xa9llo", " \xe6\x97\xa5\xe6\x9c\xac"};
    EXPECT_EQ(got, want);
}

// A tokenizer.json written by hand: bytes + merges "h e", "l l", "he ll", "hell o", "Ġ w".
std::string tiny_tokenizer_json(bool nfc) {
    // The 256 byte tokens come from training on nothing; the merges are ours.
    const Tokenizer bytes_only = [] {
        BpeTrainConfig c;
        c.vocab_size = 259;
        WordCounter w(c);
        return train_bpe(w, c);
    }();
    nlohmann::json j = nlohmann::json::parse(bytes_only.to_json().dump());
    int id = 256;
    for (const char* t : {"he", "ll", "hell", "hello", "\xc4\xa0w"}) j["model"]["vocab"][t] = id++;
    j["model"]["merges"] = {"h e", "l l", "he ll", "hell o", "\xc4\xa0 w"};
    j["added_tokens"] = nlohmann::json::array({{{"id", id}, {"content", "<|endoftext|>"}, {"special", true}}});
    if (nfc) j["normalizer"] = {{"type", "NFC"}};
    return j.dump();
}

TEST(TokenizerJson, HandCheckedMerges) {
    const Tokenizer tok = Tokenizer::from_json(nlohmann::json::parse(tiny_tokenizer_json(false)), "tiny");
    const int32_t hello = tok.require_id("hello"), space_w = tok.require_id("\xc4\xa0w");
    const std::vector<int32_t> ids = tok.encode("hello world<|endoftext|>");
    ASSERT_EQ(ids.size(), 7u);  // hello | Ġw o r l d | <|endoftext|>
    EXPECT_EQ(ids[0], hello);
    EXPECT_EQ(ids[1], space_w);
    EXPECT_EQ(ids[6], 261);
    EXPECT_EQ(tok.encode("hell").size(), 1u);  // "he" + "ll" -> "hell"
}

TEST(TokenizerJson, NfcNormalizerComposes) {
    const Tokenizer tok = Tokenizer::from_json(nlohmann::json::parse(tiny_tokenizer_json(true)), "tiny");
    EXPECT_TRUE(tok.normalizes_nfc());
    EXPECT_EQ(tok.encode("e\xcc\x81"), tok.encode("\xc3\xa9"));  // e + combining acute == é
    EXPECT_EQ(nfc("e\xcc\x81"), "\xc3\xa9");
}

TEST(TokenizerJson, PairMergesAndAddedSpecialToken) {
    nlohmann::json j = nlohmann::json::parse(tiny_tokenizer_json(false));
    nlohmann::json pairs = nlohmann::json::array();
    for (const auto& m : j["model"]["merges"]) {
        const std::string s = m;
        pairs.push_back({s.substr(0, s.find(' ')), s.substr(s.find(' ') + 1)});
    }
    j["model"]["merges"] = pairs;  // the newer tokenizers format: [["h", "e"], ...]
    Tokenizer tok = Tokenizer::from_json(j, "tiny");
    EXPECT_EQ(tok.encode("hello")[0], tok.require_id("hello"));
    const int32_t image = tok.add_special_token(kImageToken);
    EXPECT_EQ(image, 262);
    EXPECT_EQ(tok.add_special_token(kImageToken), image);
    EXPECT_EQ(tok.encode("<image>hello"), (std::vector<int32_t>{image, tok.require_id("hello")}));
}

TEST(TokenizerErrors, InvalidUtf8NamesTheByte) {
    const Tokenizer tok = Tokenizer::from_json(nlohmann::json::parse(tiny_tokenizer_json(false)), "tiny");
    try {
        (void)tok.encode("ab\xff");
        FAIL() << "no error";
    } catch (const mod::data::TokenizerError& e) {
        EXPECT_NE(std::string(e.what()).find("invalid UTF-8 at byte 2"), std::string::npos) << e.what();
    }
}

TEST(TokenizerErrors, MalformedFileNamesLineAndColumn) {
    TempDir dir;
    const std::string path = dir.str("tokenizer.json");
    std::ofstream(path) << "{\n  \"model\": {\n    \"vocab\": {\"a\" 1}\n  }\n}\n";
    try {
        (void)Tokenizer::load(path);
        FAIL() << "no error";
    } catch (const mod::data::JsonError& e) {
        EXPECT_NE(std::string(e.what()).find(path + ":3:19:"), std::string::npos) << e.what();
    }
}

TEST(TokenizerErrors, UnsupportedPreTokenizerIsRefused) {
    nlohmann::json j = nlohmann::json::parse(tiny_tokenizer_json(false));
    j["pre_tokenizer"] = {{"type", "Whitespace"}};
    EXPECT_THROW((void)Tokenizer::from_json(j, "tiny"), mod::data::TokenizerError);
}

}  // namespace
