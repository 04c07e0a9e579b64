// Generation: prompt ids (template ending, P image ids per tag, history), image loading, and the
// decoder on a tiny random model: KV-cached greedy decoding equals recomputing the whole sequence,
// seeded sampling is reproducible, top-p and the vocabulary mask hold, max_new_tokens and the stop id end it.
#include "trainer/generate.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "autograd/grad_mode.h"
#include "core/elementwise.h"
#include "core/random.h"
#include "core/view.h"
#include "data/errors.h"
#include "data/image_io.h"
#include "models/config.h"
#include "temp_dir.h"
#include "text/train_bpe.h"

namespace {

using namespace mod;
using data::Message;
using data::Role;

text::Tokenizer tiny_tokenizer() {
    text::BpeTrainConfig c;
    c.vocab_size = 300;
    text::WordCounter words(c);
    for (const char* t : {"What color is the circle? Answer the question using a single word or phrase.",
                          "USER: Describe the image in detail. ASSISTANT: A red circle and a blue star.",
                          "Is there a square in the image? yes no"}) {
        words.add(t);
    }
    return text::train_bpe(words, c);
}

// The tiny student of configs/tiny.json (P = (16 / 8)^2 = 4) in float64, so that the cached and the
// recomputed forward agree to rounding far below any gap between logits; vocabulary = the tokenizer's.
// Weights drawn wider than the 0.02 of training: with near-zero weights every step's argmax is the
// same token, and a test of decoding needs outputs that depend on the context.
struct TinyModel {
    text::Tokenizer tok = tiny_tokenizer();
    std::shared_ptr<models::LlavaModel> model;
    Tensor pixels;

    TinyModel() {
        models::MllmConfig config =
            models::load_family_config(std::string(MOD_SOURCE_DIR) + "/configs/tiny.json").student_mllm(false);
        config.lm.vocab_size = tok.vocab_size();
        config.image_token_id = tok.require_id(text::kImageToken);
        config.lm.init_std = 0.5;
        config.vision.init_std = 0.5;
        Generator gen(3);
        model = std::make_shared<models::LlavaModel>(config, gen);
        model->to(DType::F64);
        Generator pix_gen(4);
        pixels = randn({1, 3, 16, 16}, pix_gen, DType::F64);
    }
    std::vector<int64_t> prompt(const std::string& question = "What color is the circle?") const {
        return train::prompt_ids(*model, {{Role::human, "<image>\n" + question}}, tok);
    }
};

std::vector<int64_t> encode64(const text::Tokenizer& tok, const std::string& s) {
    const std::vector<int32_t> ids = tok.encode(s);
    return {ids.begin(), ids.end()};
}

bool ends_with(const std::vector<int64_t>& ids, const std::vector<int64_t>& suffix) {
    return ids.size() >= suffix.size() && std::equal(suffix.rbegin(), suffix.rend(), ids.rbegin());
}

TEST(PromptIds, EndWithAssistantAndHoldPImageIds) {
    const TinyModel t;
    const std::vector<int64_t> ids = t.prompt();
    const int64_t image_id = t.model->config.image_token_id;
    EXPECT_EQ(std::count(ids.begin(), ids.end(), image_id), t.model->config.vision.num_patches());
    EXPECT_TRUE(ends_with(ids, encode64(t.tok, " ASSISTANT:")));
    // The image block is contiguous and, decoded, the ids are the template's text with P tags.
    const auto first = std::find(ids.begin(), ids.end(), image_id) - ids.begin();
    for (int64_t i = 0; i < 4; ++i) EXPECT_EQ(ids[first + i], image_id);
    const std::string expected = std::string(data::kDefaultSystem) +
                                 " USER: <image><image><image><image>\nWhat color is the circle? ASSISTANT:";
    EXPECT_EQ(t.tok.decode(std::vector<int32_t>(ids.begin(), ids.end())), expected);
    // decode_ids drops special tokens, the image ids among them.
    EXPECT_EQ(train::decode_ids(t.tok, ids),
              std::string(data::kDefaultSystem) + " USER: \nWhat color is the circle? ASSISTANT:");
}

TEST(PromptIds, UseTheSystemLineTheModelWasTrainedWith) {
    TinyModel t;
    t.model->config.system_prompt = "";
    const std::vector<int64_t> none = t.prompt();
    EXPECT_EQ(t.tok.decode(std::vector<int32_t>(none.begin(), none.end())),
              "USER: <image><image><image><image>\nWhat color is the circle? ASSISTANT:");
    t.model->config.system_prompt = "Be brief.";
    const std::vector<int64_t> brief = t.prompt();
    EXPECT_EQ(t.tok.decode(std::vector<int32_t>(brief.begin(), brief.end())),
              "Be brief. USER: <image><image><image><image>\nWhat color is the circle? ASSISTANT:");
}

TEST(PromptIds, KeepTheHistoryOfAMultiTurnChat) {
    const TinyModel t;
    const std::vector<Message> chat = {
        {Role::human, "<image>\nWhat color is the circle?"}, {Role::gpt, "red"}, {Role::human, "And the star?"}};
    const std::vector<int64_t> ids = train::prompt_ids(*t.model, chat, t.tok);
    const std::string text = t.tok.decode(std::vector<int32_t>(ids.begin(), ids.end()));
    EXPECT_NE(text.find(" ASSISTANT: red<|endoftext|>USER: And the star? ASSISTANT:"), std::string::npos) << text;
    EXPECT_EQ(std::count(ids.begin(), ids.end(), t.model->config.image_token_id), 4);
}

TEST(PromptIds, RejectBadConversations) {
    const TinyModel t;
    EXPECT_THROW(train::prompt_ids(*t.model, {}, t.tok), ValueError);
    EXPECT_THROW(train::prompt_ids(*t.model, {{Role::human, "q"}, {Role::gpt, "a"}}, t.tok), ValueError);
    EXPECT_THROW(train::prompt_ids(*t.model, {{Role::gpt, "a"}, {Role::human, "q"}}, t.tok), ValueError);
    models::LlavaModel& m = *t.model;
    const int64_t image_id = m.config.image_token_id;
    m.config.image_token_id = image_id + 1;  // a tokenizer from another checkpoint
    EXPECT_THROW(train::prompt_ids(m, {{Role::human, "q"}}, t.tok), ValueError);
    m.config.image_token_id = image_id;
}

TEST(PromptIds, ExpandEachImageTagIntoItsOwnBlock) {
    const TinyModel t;
    const std::vector<int64_t> ids = train::prompt_ids(*t.model, {{Role::human, "Is the circle<image> above the star<image>?"}}, t.tok);
    const int64_t image_id = t.model->config.image_token_id;
    EXPECT_EQ(std::count(ids.begin(), ids.end(), image_id), 2 * t.model->config.vision.num_patches());
    const std::string text = t.tok.decode(std::vector<int32_t>(ids.begin(), ids.end()));
    EXPECT_NE(text.find("USER: Is the circle<image><image><image><image> above the star<image><image><image><image>? ASSISTANT:"),
              std::string::npos)
        << text;
}

TEST(LoadImageTensor, NormalisesWithTheModelsMeanAndStd) {
    test::TempDir dir;
    data::ImageRgb img(20, 20);
    for (size_t i = 0; i < img.pixels.size(); i += 3) {
        img.pixels[i] = 255;
        img.pixels[i + 1] = 0;
        img.pixels[i + 2] = 51;
    }
    data::write_png(dir.str("a.png"), img);
    models::VisionConfig vision;
    vision.image_size = 16;
    vision.image_mean = {0.5, 0.25, 0.0};
    vision.image_std = {0.5, 0.25, 2.0};
    const Tensor pixels = train::load_image_tensor(dir.str("a.png"), vision);
    ASSERT_EQ(pixels.shape(), (Shape{1, 3, 16, 16}));
    const std::vector<float> v = pixels.to_vector<float>();
    // A flat colour stays flat through the bicubic resize; (x / 255 - mean) / std per channel.
    EXPECT_NEAR(v[0], 1.0f, 1e-6f);
    EXPECT_NEAR(v[256], -1.0f, 1e-6f);
    EXPECT_NEAR(v[512 + 255], 0.1f, 1e-6f);
    EXPECT_THROW(train::load_image_tensor(dir.str("missing.png"), vision), data::ImageError);
}

TEST(Generate, CachedGreedyEqualsRecomputingTheSequence) {
    const TinyModel t;
    train::GenerateOptions options;
    options.max_new_tokens = 12;
    const train::GenerateResult cached = train::generate(*t.model, t.prompt(), t.pixels, options);
    options.use_cache = false;
    const train::GenerateResult full = train::generate(*t.model, t.prompt(), t.pixels, options);
    EXPECT_EQ(cached.ids, full.ids);
    EXPECT_EQ(cached.ids.size(), 12u);
    EXPECT_GE(std::set<int64_t>(cached.ids.begin(), cached.ids.end()).size(), 3u);  // not a constant output
    EXPECT_FALSE(cached.stopped);
    EXPECT_EQ(cached.decode_steps, 11);  // the first token comes from the prompt's forward
    EXPECT_EQ(cached.prompt_tokens, static_cast<int64_t>(t.prompt().size()));
    // A different image changes what a random model says (the image features reach the logits).
    Generator gen(9);
    const train::GenerateResult other =
        train::generate(*t.model, t.prompt(), mul(randn({1, 3, 16, 16}, gen, DType::F64), 3.0), options);
    EXPECT_NE(other.ids, cached.ids);
}

// The conversation's one image fills every block of the prompt: the first token is the one the
// model's forward picks with the image given once per block, and the cache changes nothing.
TEST(Generate, ShowsTheImageInEachBlock) {
    const TinyModel t;
    const std::vector<int64_t> prompt =
        train::prompt_ids(*t.model, {{Role::human, "Is the circle<image> above the star<image>?"}}, t.tok);
    train::GenerateOptions options;
    options.max_new_tokens = 8;
    const train::GenerateResult cached = train::generate(*t.model, prompt, t.pixels, options);
    options.use_cache = false;
    const train::GenerateResult full = train::generate(*t.model, prompt, t.pixels, options);
    EXPECT_EQ(cached.ids, full.ids);
    ASSERT_EQ(cached.ids.size(), 8u);

    const int64_t T = static_cast<int64_t>(prompt.size()), V = t.model->config.lm.vocab_size;
    const Tensor ids = Tensor::from_vector<int64_t>(prompt, {1, T});
    auto last_logits = [&](const Tensor& pixels) {
        NoGradGuard no_grad;
        return t.model->forward(ids, pixels).logits.to_vector<double>();
    };
    const std::vector<double> twice = last_logits(cat({t.pixels, t.pixels}, 0));
    int64_t best = -1;
    for (int64_t v = 0; v < V; ++v) {
        if (v == t.model->config.image_token_id) continue;  // generate never picks it
        if (best < 0 || twice[(T - 1) * V + v] > twice[(T - 1) * V + best]) best = v;
    }
    EXPECT_EQ(cached.ids[0], best);
    // The second block is read: another image there moves the last position's logits.
    Generator gen(11);
    const std::vector<double> other = last_logits(cat({t.pixels, mul(randn({1, 3, 16, 16}, gen, DType::F64), 3.0)}, 0));
    double moved = 0;
    for (int64_t v = 0; v < V; ++v) moved = std::max(moved, std::abs(other[(T - 1) * V + v] - twice[(T - 1) * V + v]));
    EXPECT_GT(moved, 1e-3);
    // More than one image for a prompt's blocks is not what generate takes.
    EXPECT_THROW(train::generate(*t.model, prompt, cat({t.pixels, t.pixels, t.pixels}, 0), options), ShapeError);
}

TEST(Generate, SeededSamplingIsReproducible) {
    const TinyModel t;
    train::GenerateOptions options;
    options.max_new_tokens = 16;
    options.temperature = 1.0;
    options.top_p = 0.95;
    options.seed = 7;
    const auto a = train::generate(*t.model, t.prompt(), t.pixels, options);
    const auto b = train::generate(*t.model, t.prompt(), t.pixels, options);
    EXPECT_EQ(a.ids, b.ids);
    options.seed = 8;
    EXPECT_NE(train::generate(*t.model, t.prompt(), t.pixels, options).ids, a.ids);
    // A nucleus of one token is the argmax: sampling with a tiny top_p is greedy decoding.
    options.top_p = 1e-9;
    const auto nucleus = train::generate(*t.model, t.prompt(), t.pixels, options);
    options.temperature = 0;
    EXPECT_EQ(nucleus.ids, train::generate(*t.model, t.prompt(), t.pixels, options).ids);
}

TEST(Generate, NeverEmitsMaskedIds) {
    const TinyModel t;
    train::GenerateOptions options;
    options.max_new_tokens = 40;
    options.temperature = 5.0;  // nearly uniform: without the mask high ids would appear
    options.vocab_size = 10;
    for (int64_t id : train::generate(*t.model, t.prompt(), t.pixels, options).ids) EXPECT_LT(id, 10);
    options.vocab_size = 0;
    for (int64_t id : train::generate(*t.model, t.prompt(), t.pixels, options).ids) {
        EXPECT_NE(id, t.model->config.image_token_id);
    }
}

TEST(Generate, StopsAtMaxNewTokensOrTheStopId) {
    const TinyModel t;
    train::GenerateOptions options;
    options.max_new_tokens = 5;
    std::vector<int64_t> streamed;
    options.on_token = [&](int64_t id) { streamed.push_back(id); };
    const auto five = train::generate(*t.model, t.prompt(), t.pixels, options);
    EXPECT_EQ(five.ids.size(), 5u);
    EXPECT_EQ(streamed, five.ids);
    EXPECT_EQ(five.answer_ids(), five.ids);

    options.max_new_tokens = 0;
    EXPECT_TRUE(train::generate(*t.model, t.prompt(), t.pixels, options).ids.empty());

    // Make the third greedy token the stop id: generation ends right after it.
    options.max_new_tokens = 5;
    options.on_token = nullptr;
    options.stop_id = five.ids[2];
    const auto stopped = train::generate(*t.model, t.prompt(), t.pixels, options);
    const auto at = std::find(five.ids.begin(), five.ids.end(), five.ids[2]) - five.ids.begin();
    EXPECT_TRUE(stopped.stopped);
    EXPECT_EQ(stopped.ids, std::vector<int64_t>(five.ids.begin(), five.ids.begin() + at + 1));
    EXPECT_EQ(stopped.answer_ids().size(), static_cast<size_t>(at));
}

TEST(Generate, RejectsBadOptions) {
    const TinyModel t;
    train::GenerateOptions options;
    options.top_p = 0;
    EXPECT_THROW(train::generate(*t.model, t.prompt(), t.pixels, options), ValueError);
    options.top_p = 1;
    options.temperature = -1;
    EXPECT_THROW(train::generate(*t.model, t.prompt(), t.pixels, options), ValueError);
    options.temperature = 0;
    EXPECT_THROW(train::generate(*t.model, {}, t.pixels, options), ValueError);
}

}  // namespace
