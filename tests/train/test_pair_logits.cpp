// pair_logits: a preference batch's reference logits with the pairs' shared prefix run once equal
// the plain forward's (float64, tiny teacher, images in the prefix, once or twice per row, rows of
// different lengths);
// shared_pair_prefix finds the length, and nothing when a batch's pairs cannot share.
#include "trainer/pair_logits.h"

#include <gtest/gtest.h>

#include <cmath>

#include "autograd/grad_mode.h"
#include "core/random.h"
#include "core/view.h"
#include "models/config.h"

namespace {

using namespace mod;

constexpr int64_t kImageId = 7, kIgnore = -100;

models::MllmConfig tiny_teacher() {
    models::MllmConfig c = models::load_family_config(std::string(MOD_SOURCE_DIR) + "/configs/tiny.json").teacher_mllm();
    c.image_token_id = kImageId;
    c.lm.init_std = 0.5;  // wide weights, so that positions and context move the logits
    return c;
}

// N pairs of T tokens: P image ids, a prompt of `prompt` tokens shared by the pair (with
// `blocks` = 2, its second token starts a second block of P image ids), then answers that differ
// from their first token; row b of the chosen and b + N of the rejected half. The rejected answers
// are `shorter` tokens shorter (right-padded with 0). Labels cover the answers.
train::ModelInputs pair_batch(int64_t N, int64_t P, int64_t prompt, int64_t T, int64_t shorter, Generator& gen,
                              int64_t image_size, int64_t blocks) {
    std::vector<int64_t> ids(2 * N * T, 0), labels(2 * N * T, kIgnore);
    for (int64_t b = 0; b < 2 * N; ++b) {
        const int64_t pair = b % N, end = b < N ? T : T - shorter;
        for (int64_t t = 0; t < end; ++t) {
            const bool answer = t >= P + prompt;
            const bool image = t < P || (blocks == 2 && t > P && t <= 2 * P);
            ids[b * T + t] = image ? kImageId : 10 + ((answer ? b : pair) * 37 + t * 11) % 280;
            if (answer) labels[b * T + t] = ids[b * T + t];
        }
    }
    train::ModelInputs in;
    in.input_ids = Tensor::from_vector<int64_t>(ids, {2 * N, T});
    in.labels = Tensor::from_vector<int64_t>(labels, {2 * N, T});
    const Tensor images = randn({N, 3, image_size, image_size}, gen, DType::F64);
    // One image per block in row order; the rejected rows see their pair's image.
    std::vector<Tensor> shown;
    for (int64_t b = 0; b < 2 * N; ++b)
        for (int64_t k = 0; k < blocks; ++k) shown.push_back(images.narrow(0, b % N, 1));
    in.pixels = cat(shown, 0);
    return in;
}

void expect_pair_logits_equal_the_plain_forward(int64_t blocks) {
    const models::MllmConfig config = tiny_teacher();
    Generator gen(5);
    models::LlavaModel model(config, gen);
    model.to(DType::F64);
    const int64_t P = config.vision.num_patches(), prompt = 5 + (blocks - 1) * P;
    const int64_t T = P + prompt + 7;
    const train::ModelInputs in = pair_batch(3, P, prompt, T, 3, gen, config.vision.image_size, blocks);
    const train::LabelPositions pos = train::shifted_positions(in.labels);
    const std::vector<int64_t> ids = in.input_ids.to_vector<int64_t>();
    // The prefix ends where the first answer token is predicted: the prompt's last position.
    EXPECT_EQ(train::shared_pair_prefix(ids, 6, T, kImageId, pos.rows.to_vector<int64_t>()), P + prompt - 1);

    Tensor plain;
    {
        NoGradGuard no_grad;
        plain = model.forward(in.input_ids, in.pixels, Tensor(), nullptr, nullptr, pos.rows).logits;
    }
    const Tensor shared = train::pair_logits(model, in, pos.rows);
    ASSERT_EQ(shared.shape(), plain.shape());
    const std::vector<double> a = plain.to_vector<double>(), b = shared.to_vector<double>();
    double worst = 0, scale = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        worst = std::max(worst, std::abs(a[i] - b[i]));
        scale = std::max(scale, std::abs(a[i]));
    }
    EXPECT_GT(scale, 0.1);  // logits that differ by row and position, not a constant
    EXPECT_LT(worst, 1e-10 * scale);
}

TEST(PairLogits, EqualThePlainForward) { expect_pair_logits_equal_the_plain_forward(1); }

TEST(PairLogits, EqualThePlainForwardWithTheImageShownTwice) { expect_pair_logits_equal_the_plain_forward(2); }

TEST(PairLogits, SharedPrefixOnlyWherePairsCanShare) {
    const int64_t T = 6;
    // Pairs (0, 2) and (1, 3): the second pair differs from position 3, the first from 4.
    const std::vector<int64_t> ids = {7, 7, 1, 2, 3, 4,   //
                                      7, 7, 5, 6, 8, 9,   //
                                      7, 7, 1, 2, 9, 9,   //
                                      7, 7, 5, 1, 1, 1};
    const std::vector<int64_t> late = {4, 5, 10, 11, 16, 17, 22, 23};
    EXPECT_EQ(train::shared_pair_prefix(ids, 4, T, 7, late), 3);
    // A logit row earlier than the common prefix caps it.
    EXPECT_EQ(train::shared_pair_prefix(ids, 4, T, 7, {2, 5, 11}), 2);
    // Odd rows, or an image position beyond what the pairs share: nothing.
    EXPECT_EQ(train::shared_pair_prefix(std::vector<int64_t>(ids.begin(), ids.begin() + 18), 3, T, 7, {5}), 0);
    std::vector<int64_t> late_image = ids;
    late_image[3 * T + 4] = 7;
    EXPECT_EQ(train::shared_pair_prefix(late_image, 4, T, 7, late), 0);
    // Identical rows still leave the last position to the second part.
    const std::vector<int64_t> same = {7, 1, 2, 3, 7, 1, 2, 3};
    EXPECT_EQ(train::shared_pair_prefix(same, 2, 4, 7, {3, 7}), 3);
}

}  // namespace
