// nn modules: parameter names, state_dict round trip and strict errors, freezing by
// pattern, dtype conversion, gradient checks of layers, and KV-cache decoding equal to
// full-sequence attention.
#include "autograd/grad_mode.h"
#include "core/elementwise.h"
#include "core/reduce.h"
#include "core/view.h"
#include "nn/attention.h"
#include "nn/linear.h"
#include "nn/mlp.h"
#include "nn/norm.h"
#include "testing.h"

namespace mod::nn {
namespace {

using V = const std::vector<Tensor>&;

// Positions start..start+T-1 for each of B rows.
Tensor testing_positions(int64_t B, int64_t T, int64_t start) {
    std::vector<int64_t> p;
    for (int64_t b = 0; b < B; ++b)
        for (int64_t t = 0; t < T; ++t) p.push_back(start + t);
    return Tensor::from_vector<int64_t>(p, {B, T});
}

std::vector<Tensor> params_of(const Module& m) {
    std::vector<Tensor> out;
    for (auto& [name, t] : m.named_parameters()) out.push_back(t);
    return out;
}

TEST(Module, NamesFollowRegistration) {
    Generator gen(0);
    SwiGluMlp mlp(4, 6, gen, 0.02);
    std::vector<std::string> names;
    for (auto& [name, t] : mlp.named_parameters()) names.push_back(name);
    EXPECT_EQ(names, (std::vector<std::string>{"gate_proj.weight", "up_proj.weight", "down_proj.weight"}));
    EXPECT_EQ(mlp.num_parameters(), 3 * 4 * 6);
    AttentionConfig c{8, 4, 2, true, false, true, true, 1e4, "o_proj", 0.02};
    Attention attn(c, gen);
    EXPECT_EQ(attn.named_parameters()[0].first, "q_proj.weight");
    EXPECT_EQ(attn.named_parameters().back().first, "o_proj.weight");
    EXPECT_EQ(attn.k_proj->weight.shape(), (Shape{4, 8}));  // 2 kv heads of dim 2
}

TEST(Module, StateDictRoundTripAndStrictErrors) {
    Generator g1(1), g2(2);
    Linear a(3, 2, true, g1), b(3, 2, true, g2);
    b.load_state_dict(a.state_dict());
    EXPECT_EQ(b.weight.to_vector<float>(), a.weight.to_vector<float>());
    auto sd = a.state_dict();
    sd.erase("bias");
    sd["extra"] = Tensor::zeros({1});
    try {
        b.load_state_dict(sd);
        FAIL();
    } catch (const ShapeError& e) {
        std::string m = e.what();
        EXPECT_NE(m.find("missing: bias"), std::string::npos) << m;
        EXPECT_NE(m.find("unexpected: extra"), std::string::npos) << m;
    }
    EXPECT_NO_THROW(b.load_state_dict(sd, /*strict=*/false));
    sd = a.state_dict();
    sd["weight"] = Tensor::zeros({2, 4});
    try {
        b.load_state_dict(sd, false);
        FAIL();
    } catch (const ShapeError& e) {
        EXPECT_NE(std::string(e.what()).find("weight (2,3) vs (2,4)"), std::string::npos) << e.what();
    }
    // A bf16 checkpoint loads into float32 weights.
    sd = a.state_dict();
    sd["weight"] = sd["weight"].to(DType::BF16);
    b.load_state_dict(sd);
    EXPECT_NEAR(b.weight.to_vector<float>()[0], a.weight.to_vector<float>()[0], 1e-2);
}

TEST(Module, FreezeByPatternAndDtype) {
    Generator gen(0);
    SwiGluMlp mlp(4, 6, gen, 0.02);
    EXPECT_EQ(mlp.set_requires_grad("*_proj.weight", false), 3);
    EXPECT_TRUE(mlp.trainable_parameters().empty());
    EXPECT_EQ(mlp.set_requires_grad("up_*", true), 1);
    EXPECT_EQ(mlp.trainable_parameters()[0].first, "up_proj.weight");
    EXPECT_TRUE(name_matches("model.layers.*.mlp.*", "model.layers.3.mlp.experts.0.gate_proj.weight"));
    EXPECT_FALSE(name_matches("model.layers.*.mlp.*", "model.layers.3.self_attn.q_proj.weight"));
    mlp.to(DType::F64);
    EXPECT_EQ(mlp.gate_proj->weight.dtype(), DType::F64);
    EXPECT_EQ(mlp.named_parameters()[0].second.dtype(), DType::F64);  // the member and the list are one tensor
}

TEST(Layers, Gradients) {
    Generator gen(3);
    Linear lin(3, 4, true, gen, 0.5);
    lin.to(DType::F64);
    Tensor x = testing::leaf({2, 5, 3}, 1);
    std::vector<Tensor> in = params_of(lin);
    in.push_back(x);
    EXPECT_GRADCHECK([&](V) { return lin.forward(x); }, in);

    SwiGluMlp mlp(3, 5, gen, 0.5);
    mlp.to(DType::F64);
    in = params_of(mlp);
    in.push_back(x);
    EXPECT_GRADCHECK([&](V) { return mlp.forward(x); }, in);

    ClipMlp cmlp(3, 5, gen, 0.5);
    cmlp.to(DType::F64);
    in = params_of(cmlp);
    in.push_back(x);
    EXPECT_GRADCHECK([&](V) { return cmlp.forward(x); }, in);

    Embedding emb(5, 3, gen);
    emb.to(DType::F64);
    Tensor ids = Tensor::from_vector<int64_t>({4, 0, 4}, {3});
    EXPECT_GRADCHECK([&](V) { return emb.forward(ids); }, params_of(emb));

    RMSNorm rms(3);
    LayerNorm ln(3);
    rms.to(DType::F64);
    ln.to(DType::F64);
    EXPECT_GRADCHECK([&](V) { return rms.forward(x) * ln.forward(x); }, {rms.weight, ln.weight, ln.bias, x});
}

TEST(Layers, AttentionGradientsWithRopeAndGqa) {
    Generator gen(4);
    AttentionConfig c{8, 4, 2, true, false, true, true, 100.0, "o_proj", 0.3};
    Attention attn(c, gen);
    attn.to(DType::F64);
    Tensor x = testing::leaf({2, 3, 8}, 1);
    Tensor pos = Tensor::from_vector<int64_t>({0, 1, 2, 5, 6, 7}, {2, 3});
    std::vector<Tensor> in = params_of(attn);
    in.push_back(x);
    EXPECT_GRADCHECK([&](V) { return attn.forward(x, pos); }, in);
}

TEST(Layers, KvCacheDecodingEqualsFullSequence) {
    Generator gen(5);
    AttentionConfig c{16, 4, 2, true, false, true, true, 1e4, "o_proj", 0.2};
    Attention attn(c, gen);
    attn.to(DType::F64);
    NoGradGuard no_grad;
    Tensor x = testing::leaf({2, 6, 16}, 2).detach();
    Tensor full = attn.forward(x, testing_positions(2, 6, 0));
    KVCache cache;
    // A 2-token prompt, then one token at a time.
    std::vector<Tensor> steps{attn.forward(x.narrow(1, 0, 2), testing_positions(2, 2, 0), &cache)};
    for (int64_t t = 2; t < 6; ++t) steps.push_back(attn.forward(x.narrow(1, t, 1), testing_positions(2, 1, t), &cache));
    EXPECT_EQ(cache.length(), 6);
    std::vector<double> a = cat(steps, 1).to_vector<double>(), b = full.to_vector<double>();
    for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-13) << i;
}

}  // namespace
}  // namespace mod::nn
