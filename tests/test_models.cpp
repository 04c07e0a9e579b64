// The model family: configs (strict keys, JSON errors), parameter counts of the real-scale
// configs against the public checkpoints, the MLLM's image splicing, upcycling, KV-cache
// decoding, and gradients through the image path.
#include <cmath>

#include "autograd/grad_mode.h"
#include "core/elementwise.h"
#include "core/index.h"
#include "core/reduce.h"
#include "core/view.h"
#include "models/mllm.h"
#include "testing.h"

namespace mod::models {
namespace {

using V = const std::vector<Tensor>&;

std::string config_path(const std::string& name) { return std::string(MOD_SOURCE_DIR) + "/configs/" + name; }

TEST(Config, RealScaleCountsMatchThePublicCheckpoints) {
    ModelFamilyConfig c = load_family_config(config_path("real.json"));
    EXPECT_EQ(lm_parameter_count(c.student), 494032768);    // Qwen2-0.5B, tied embeddings
    EXPECT_EQ(lm_parameter_count(c.teacher), 7615616512);   // Qwen2-7B
    EXPECT_EQ(vision_parameter_count(c.vision), 303507456); // CLIP ViT-L/14-336 vision tower
    ParameterCounts sparse = mllm_parameter_counts(c.student_mllm(true));
    ParameterCounts dense = mllm_parameter_counts(c.student_mllm(false));
    EXPECT_GT(sparse.total, dense.total);
    EXPECT_EQ(c.moe.layers.size(), 12u);  // every other of 24 layers
    // K = 2 of 4 experts: one extra SwiGLU (3 D F) and a router (D E) per MoE layer are active.
    EXPECT_EQ(sparse.activated - dense.activated, 12 * (3 * 896 * 4864 + 896 * 4));
}

TEST(Config, ModuleCountsEqualTheFormulas) {
    ModelFamilyConfig c = load_family_config(config_path("tiny.json"));
    Generator gen(0);
    LlavaModel teacher(c.teacher_mllm(), gen);
    EXPECT_EQ(teacher.parameter_counts().total, mllm_parameter_counts(c.teacher_mllm()).total);
    LlavaModel student(c.student_mllm(false), gen, teacher.model->vision_tower->vision_tower);
    EXPECT_EQ(student.parameter_counts().total, mllm_parameter_counts(c.student_mllm(false)).total);
    student.upcycle(gen);
    ParameterCounts got = student.parameter_counts(), want = mllm_parameter_counts(c.student_mllm(true));
    EXPECT_EQ(got.total, want.total);
    EXPECT_EQ(got.activated, want.activated);
    EXPECT_EQ(student.named_parameters().back().first, "model.vision_tower.vision_tower.vision_model.post_layernorm.bias");
    bool has_expert = false, has_router = false;
    for (auto& [name, t] : student.named_parameters()) {
        has_expert |= name == "model.layers.0.mlp.experts.3.gate_proj.weight";
        has_router |= name == "model.layers.0.mlp.gate.weight";
    }
    EXPECT_TRUE(has_expert);
    EXPECT_TRUE(has_router);
}

TEST(Config, MoeActivatedWidthGivesTheDenseStudentTheSparseStudentsActivatedMlps) {
    ModelFamilyConfig c = load_family_config(config_path("quickstart.json"));
    EXPECT_EQ(moe_activated_width(c), 288);  // 192 * (4 layers + 1 extra expert in each of 2 MoE layers) / 4
    ModelFamilyConfig wide = c;
    wide.student.intermediate_size = moe_activated_width(c);
    const auto routers = static_cast<int64_t>(c.moe.layers.size()) * c.student.hidden_size * c.moe.num_experts;
    EXPECT_EQ(mllm_parameter_counts(wide.student_mllm(false)).activated,
              mllm_parameter_counts(c.student_mllm(true)).activated - routers);
}

TEST(Config, UnknownKeysAndBadJsonAreNamed) {
    try {
        parse_family_config(R"({"vision": {"hiden_size": 3}, "student": {}, "teacher": {}})", "x.json");
        FAIL();
    } catch (const ValueError& e) {
        EXPECT_STREQ(e.what(), "[config] x.json: vision: unknown key 'hiden_size' (did you mean 'hidden_size'?)");
    }
    try {
        parse_family_config("{\n  \"vision\": {,}\n}", "y.json");
        FAIL();
    } catch (const IOError& e) {
        EXPECT_STREQ(e.what(), "[config] y.json:2:14: malformed JSON");
    }
    EXPECT_THROW(parse_family_config(R"({"vision": {}, "student": {"num_heads": 5}, "teacher": {}})", "z"), ValueError);
    EXPECT_THROW(parse_family_config(R"({"vision": {}, "student": {}, "teacher": {}, "moe": {"router_pick": "x"}})", "z"),
                 ValueError);
    EXPECT_THROW(load_family_config("/nonexistent.json"), IOError);
    MllmConfig m = parse_mllm_config(mllm_config_to_json(load_family_config(config_path("small.json")).student_mllm(true)), "rt");
    EXPECT_TRUE(m.sparse);
    EXPECT_EQ(m.lm.hidden_size, 512);
    EXPECT_EQ(m.moe.layers, (std::vector<int64_t>{0, 2, 4, 6}));
    EXPECT_FALSE(m.image_after_question);
    MllmConfig after = m;
    after.image_after_question = true;
    EXPECT_TRUE(parse_mllm_config(mllm_config_to_json(after), "rt").image_after_question);
    EXPECT_FALSE(m.image_after_names);
    after.image_after_names = true;
    EXPECT_TRUE(parse_mllm_config(mllm_config_to_json(after), "rt").image_after_names);
    EXPECT_THROW(parse_mllm_config(R"({"vision": {}, "lm": {}, "image_after_question": "yes"})", "bad"), ValueError);
    // The system line: unset in a config written without one, "" kept as "" (none).
    EXPECT_FALSE(m.system_prompt.has_value());
    MllmConfig none = m;
    none.system_prompt = "";
    EXPECT_EQ(parse_mllm_config(mllm_config_to_json(none), "rt").system_prompt, std::optional<std::string>(""));
    none.system_prompt = "Be brief.";
    EXPECT_EQ(parse_mllm_config(mllm_config_to_json(none), "rt").system_prompt, std::optional<std::string>("Be brief."));
    EXPECT_THROW(parse_mllm_config(R"({"vision": {}, "lm": {}, "system_prompt": 1})", "bad"), ValueError);
}

struct TinyMllm {
    MllmConfig config;
    Generator gen{1};
    std::shared_ptr<LlavaModel> model;
    explicit TinyMllm(bool f64 = true) {
        config = load_family_config(config_path("tiny.json")).student_mllm(false);
        config.image_token_id = 7;
        model = std::make_shared<LlavaModel>(config, gen);
        if (f64) model->to(DType::F64);
    }
    // Two rows: text, 4 image positions (P = (16/8)^2 = 4), text; right padded.
    Tensor ids() const { return Tensor::from_vector<int64_t>({1, 7, 7, 7, 7, 2, 3, 4, 5, 7, 7, 7, 7, 6, 0, 0}, {2, 8}); }
    Tensor pixels() { return testing::leaf({2, 3, 16, 16}, 11).detach(); }
};

TEST(Mllm, SplicesImageFeaturesAtImagePositions) {
    TinyMllm t;
    NoGradGuard no_grad;
    Tensor pixels = t.pixels();
    MllmOutput out = t.model->forward(t.ids(), pixels);
    EXPECT_EQ(out.logits.shape(), (Shape{2, 8, 300}));
    // Changing image 1 changes row 1 from its first image position on, and never row 0.
    Tensor other = pixels.clone();
    other.narrow(0, 1, 1).fill_(0.5);
    MllmOutput out2 = t.model->forward(t.ids(), other);
    EXPECT_EQ(sum(abs(out.logits.select(0, 0) - out2.logits.select(0, 0))).item(), 0.0);
    // Row 1 is [5, img, img, img, img, 6, pad, pad]: causal, so the token before the image is untouched.
    EXPECT_EQ(sum(abs(out.logits.select(0, 1).narrow(0, 0, 1) - out2.logits.select(0, 1).narrow(0, 0, 1))).item(), 0.0);
    EXPECT_GT(sum(abs(out.logits.select(0, 1).narrow(0, 1, 1) - out2.logits.select(0, 1).narrow(0, 1, 1))).item(), 0.0);
    EXPECT_THROW(t.model->forward(t.ids(), Tensor()), ValueError);
    EXPECT_THROW(t.model->forward(t.ids(), pixels.narrow(0, 0, 1)), ShapeError);
}

TEST(Mllm, UpcycledModelGivesTheDenseLogits) {
    TinyMllm t;
    NoGradGuard no_grad;
    Tensor pixels = t.pixels();
    std::vector<double> dense = t.model->forward(t.ids(), pixels).logits.to_vector<double>();
    t.model->upcycle(t.gen);
    t.model->to(DType::F64);
    MllmOutput sparse = t.model->forward(t.ids(), pixels);
    EXPECT_EQ(sparse.moe.tokens_per_expert.size(), 1u);  // tiny: 2 layers, MoE on layer 0
    std::vector<double> s = sparse.logits.to_vector<double>();
    for (size_t i = 0; i < s.size(); ++i) ASSERT_NEAR(s[i], dense[i], 1e-12) << i;
}

TEST(Mllm, KvCacheDecodingEqualsTheFullForward) {
    TinyMllm t;
    t.model->upcycle(t.gen);
    t.model->to(DType::F64);
    NoGradGuard no_grad;
    Tensor ids = t.ids().narrow(0, 0, 1).contiguous(), pixels = t.pixels().narrow(0, 0, 1).contiguous();
    std::vector<double> full = t.model->forward(ids, pixels).logits.to_vector<double>();
    std::vector<nn::KVCache> caches(t.config.lm.num_layers);
    std::vector<Tensor> steps{t.model->forward(ids.narrow(1, 0, 6).contiguous(), pixels, Tensor(), &caches).logits};
    for (int64_t i = 6; i < 8; ++i)
        steps.push_back(t.model->forward(ids.narrow(1, i, 1).contiguous(), Tensor(), Tensor(), &caches).logits);
    std::vector<double> inc = cat(steps, 1).to_vector<double>();
    for (size_t i = 0; i < inc.size(); ++i) ASSERT_NEAR(inc[i], full[i], 1e-12) << i;
}

// A loss reads a few rows: the head at logit_rows gives exactly those rows of the full logits,
// and its gradient reaches the body through them.
TEST(Mllm, LogitRowsAreThoseRowsOfTheFullLogits) {
    TinyMllm t;
    Tensor pixels = t.pixels();
    const Tensor rows = Tensor::from_vector<int64_t>({13, 0, 5, 6}, {4});
    {
        NoGradGuard no_grad;
        const Tensor full = t.model->forward(t.ids(), pixels).logits.reshape({16, 300});
        const MllmOutput out = t.model->forward(t.ids(), pixels, Tensor(), nullptr, nullptr, rows);
        ASSERT_EQ(out.logits.shape(), (Shape{4, 300}));
        // Another number of rows is another GEMM blocking: equal up to rounding.
        EXPECT_LT(sum(abs(out.logits - index_select(full, 0, rows))).item(), 1e-12);
    }
    EXPECT_GRADCHECK(
        [&](V) { return t.model->forward(t.ids(), pixels, Tensor(), nullptr, nullptr, rows).logits.narrow(1, 0, 5); },
        {t.model->model->mm_projector->fc2->bias, t.model->model->norm->weight});
}

TEST(Mllm, GradientsReachTheProjectorAndVisionThroughTheSplice) {
    TinyMllm t;
    Tensor pixels = t.pixels();
    Tensor ids = t.ids();
    auto* emb = t.model->model->vision_tower->vision_tower->vision_model->embeddings.get();
    EXPECT_GRADCHECK([&](V) { return t.model->forward(ids, pixels).logits.narrow(2, 0, 5); },
                     {t.model->model->mm_projector->fc2->bias, emb->class_embedding,
                      t.model->model->layers->operator[](1)->post_attention_layernorm->weight});
}

}  // namespace
}  // namespace mod::models
