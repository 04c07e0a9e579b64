// ReferenceLogProbs: the reference's log-probs of every preference pair, computed in one pass,
// equal those computed in any other batch (float64, tiny teacher, pairs of different lengths);
// pairs that share an id give no table, no pairs an empty one; a pair outside the pass is a named error.
#include "trainer/reference_log_probs.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/random.h"
#include "models/config.h"
#include "bytes_tokenizer.h"

namespace {

using namespace mod;
using data::Role;

models::MllmConfig tiny_teacher(int64_t image_token_id) {
    models::MllmConfig c = models::load_family_config(std::string(MOD_SOURCE_DIR) + "/configs/tiny.json").teacher_mllm();
    c.image_token_id = image_token_id;
    c.lm.init_std = 0.5;  // wide weights, so that the answers' log-probs differ clearly
    return c;
}

// Text-only pairs whose prompts and answers differ in length and content.
std::vector<data::Sample> pairs(int n, const std::vector<std::string>& ids = {}) {
    std::vector<data::Sample> out;
    for (int i = 0; i < n; ++i) {
        data::Sample s;
        s.id = ids.empty() ? "pair-" + std::to_string(i) : ids[static_cast<size_t>(i)];
        const std::string q = "Question " + std::string(static_cast<size_t>(1 + i % 4), 'q') + "?";
        s.messages = {{Role::human, q}, {Role::gpt, "yes" + std::string(static_cast<size_t>(i % 3), '!')}};
        s.rejected = {{Role::human, q}, {Role::gpt, "no, " + std::string(static_cast<size_t>(i % 5), 'n')}};
        out.push_back(s);
    }
    return out;
}

data::LoaderConfig in_file_order(int64_t batch_size) {
    data::LoaderConfig c;
    c.batch_size = batch_size;
    c.shuffle = false;
    return c;
}

class ReferenceLogProbsTest : public ::testing::Test {
protected:
    ReferenceLogProbsTest() : tok_(test::bytes_tokenizer()), gen_(3), model_(tiny_teacher(tok_.require_id(text::kImageToken)), gen_) {
        model_.to(DType::F64);
    }
    text::Tokenizer tok_;
    Generator gen_;
    models::LlavaModel model_;
};

TEST_F(ReferenceLogProbsTest, EqualTheReferenceOfAnyBatch) {
    data::Loader pass(pairs(10), tok_, in_file_order(4));  // batches of 4, 4 and 2 pairs
    const std::optional<train::ReferenceLogProbs> table = train::ReferenceLogProbs::compute(model_, pass, Device::cpu());
    ASSERT_TRUE(table.has_value());
    EXPECT_EQ(table->size(), 10);

    data::LoaderConfig shuffled;
    shuffled.batch_size = 3;
    shuffled.seed = 7;
    data::Loader loader(pairs(10), tok_, shuffled);
    int batches = 0;
    double spread = 0;  // how much the log-probs differ between rows: not a constant
    while (std::optional<data::Batch> b = loader.next()) {
        const train::ModelInputs in = train::to_model_inputs(*b);
        const Tensor now = train::reference_log_probs(model_, in, train::shifted_positions(in.labels));
        const Tensor cached = table->of(*b);
        ASSERT_EQ(cached.dtype(), DType::F64);
        ASSERT_EQ(cached.shape(), now.shape());
        const std::vector<double> a = now.to_vector<double>(), c = cached.to_vector<double>();
        for (size_t i = 0; i < a.size(); ++i) {
            EXPECT_NEAR(c[i], a[i], 1e-9 * std::abs(a[i])) << b->sample_ids[i];
            spread = std::max(spread, std::abs(a[i] - a[0]));
        }
        ++batches;
    }
    EXPECT_EQ(batches, 4);
    EXPECT_GT(spread, 0.1);
}

TEST_F(ReferenceLogProbsTest, PairsThatShareAnIdGiveNoTable) {
    data::Loader pass(pairs(3, {"a", "b", "a"}), tok_, in_file_order(2));
    EXPECT_FALSE(train::ReferenceLogProbs::compute(model_, pass, Device::cpu()).has_value());
}

TEST_F(ReferenceLogProbsTest, NoPairsGiveAnEmptyTable) {
    data::Loader pass(pairs(0), tok_, in_file_order(2));
    const std::optional<train::ReferenceLogProbs> table = train::ReferenceLogProbs::compute(model_, pass, Device::cpu());
    ASSERT_TRUE(table.has_value());
    EXPECT_EQ(table->size(), 0);
}

TEST_F(ReferenceLogProbsTest, APairOutsideThePassIsANamedError) {
    data::Loader pass(pairs(2), tok_, in_file_order(2));
    const std::optional<train::ReferenceLogProbs> table = train::ReferenceLogProbs::compute(model_, pass, Device::cpu());
    ASSERT_TRUE(table.has_value());
    data::Loader other(pairs(3, {"pair-0", "pair-1", "stranger"}), tok_, in_file_order(3));
    try {
        table->of(*other.next());
        FAIL() << "expected ValueError";
    } catch (const ValueError& e) {
        EXPECT_NE(std::string(e.what()).find("\"stranger\""), std::string::npos) << e.what();
    }
}

}  // namespace
