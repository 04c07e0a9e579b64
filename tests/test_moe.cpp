// MoE: routing (top-k, Gumbel, capacity), upcycling equals the dense MLP, the aux and z
// losses against hand-computed values, only picked experts run, and gradient checks of
// the whole layer for both router picks, dropless and capped.
#include <cmath>

#include "autograd/grad_mode.h"
#include "core/elementwise.h"
#include "core/softmax.h"
#include "models/moe.h"
#include "testing.h"

namespace mod::models {
namespace {

using V = const std::vector<Tensor>&;

MoeConfig moe_config(const std::string& pick, double capacity) {
    MoeConfig c;
    c.num_experts = 4;
    c.top_k = 2;
    c.router_pick = pick;
    c.capacity_factor = capacity;
    return c;
}

TEST(Moe, TopkRoutingPicksTheLargestInOrder) {
    Tensor logits = Tensor::from_vector<float>({0.1f, 2.0f, -1.0f, 1.0f, 3.0f, 0.0f, 0.5f, 0.2f}, {2, 4});
    Routing r = route_tokens(logits, moe_config("topk", 0), nullptr);
    EXPECT_EQ(r.expert, (std::vector<int64_t>{1, 3, 0, 2}));
    EXPECT_EQ(r.top1, (std::vector<int64_t>{1, 0}));
    EXPECT_EQ(r.kept, (std::vector<uint8_t>{1, 1, 1, 1}));
}

TEST(Moe, GumbelRoutingTakesTheArgmaxFirstThenANoisyPick) {
    Generator gen(0);
    Tensor logits = Tensor::from_vector<float>({0.0f, 5.0f, 0.0f, 0.0f}, {1, 4});
    std::vector<int> second(4, 0);
    for (int i = 0; i < 400; ++i) {
        Routing r = route_tokens(logits, moe_config("gumbel", 0), &gen);
        ASSERT_EQ(r.expert[0], 1);
        ASSERT_NE(r.expert[1], 1);
        ++second[r.expert[1]];
    }
    // Equal logits for the others: each should be the second pick about a third of the time.
    for (int e : {0, 2, 3}) EXPECT_NEAR(second[e] / 400.0, 1.0 / 3, 0.1);
    EXPECT_THROW(route_tokens(logits, moe_config("gumbel", 0), nullptr), ValueError);
}

TEST(Moe, CapacityDropsInTokenOrderFirstPicksFirst) {
    // 4 tokens all preferring expert 0 then 1; capacity = ceil(4 / 4 * 1.0 * 2) = 2.
    Tensor logits = Tensor::from_vector<float>({3, 2, 0, 0, 3, 2, 0, 0, 3, 2, 0, 0, 3, 2, 0, 0}, {4, 4});
    Routing r = route_tokens(logits, moe_config("topk", 1.0), nullptr);
    EXPECT_EQ(r.kept, (std::vector<uint8_t>{1, 1, 1, 1, 0, 0, 0, 0}));
}

TEST(Moe, UpcycledLayerEqualsTheDenseMlp) {
    for (const char* pick : {"topk", "gumbel"}) {
        Generator gen(1);
        nn::SwiGluMlp dense(8, 12, gen, 0.3);
        dense.to(DType::F64);
        auto moe = MoeLayer::upcycle(dense, moe_config(pick, 0), gen);
        moe->to(DType::F64);
        NoGradGuard no_grad;
        Tensor x = testing::leaf({3, 5, 8}, 2).detach();
        Generator noise(3);
        std::vector<double> a = moe->forward(x, &noise).y.to_vector<double>(), b = dense.forward(x).to_vector<double>();
        // Equal up to the rounding of sum_k w_k y (the weights sum to 1): a few ulps in float64.
        for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-15 * (1 + std::fabs(b[i]))) << pick << " " << i;
    }
}

TEST(Moe, AuxAndZLossMatchHandComputedValues) {
    Generator gen(4);
    auto moe = std::make_shared<MoeLayer>(4, 6, moe_config("topk", 0), gen, 0.5);
    moe->to(DType::F64);
    Tensor x = testing::leaf({5, 4}, 5).detach();
    MoeOutput out = moe->forward(x, nullptr);
    // By hand: p = softmax(x Wr^T); frac_e = share of tokens whose top-1 is e.
    std::vector<double> xv = x.to_vector<double>(), wv = moe->gate->weight.to_vector<double>();
    double aux = 0, z = 0;
    std::vector<double> mean_p(4, 0), frac(4, 0);
    for (int t = 0; t < 5; ++t) {
        std::vector<double> l(4);
        double m = -1e300, s = 0;
        for (int e = 0; e < 4; ++e) {
            for (int d = 0; d < 4; ++d) l[e] += xv[t * 4 + d] * wv[e * 4 + d];
            m = std::max(m, l[e]);
        }
        for (int e = 0; e < 4; ++e) s += std::exp(l[e] - m);
        int best = 0;
        for (int e = 0; e < 4; ++e) {
            mean_p[e] += std::exp(l[e] - m) / s / 5;
            if (l[e] > l[best]) best = e;
        }
        frac[best] += 1.0 / 5;
        z += std::pow(m + std::log(s), 2) / 5;
    }
    for (int e = 0; e < 4; ++e) aux += 4 * mean_p[e] * frac[e];
    EXPECT_NEAR(out.aux.item(), aux, 1e-12);
    EXPECT_NEAR(out.z.item(), z, 1e-12);
    int64_t total = 0;
    for (int64_t n : out.tokens_per_expert) total += n;
    EXPECT_EQ(total, 5 * 2);  // dropless: every token reaches K experts
}

TEST(Moe, UnpickedExpertsComputeNothing) {
    Generator gen(6);
    auto moe = std::make_shared<MoeLayer>(4, 6, moe_config("topk", 0), gen, 0.5);
    // Make expert 3 unreachable: its router row is very negative.
    {
        NoGradGuard no_grad;
        moe->gate->weight.narrow(0, 3, 1).fill_(0.0);
        moe->gate->weight.narrow(1, 0, 1).narrow(0, 3, 1).fill_(-100.0);
    }
    Tensor x = Tensor::ones({6, 4});
    MoeOutput out = moe->forward(x, nullptr);
    EXPECT_EQ(out.tokens_per_expert[3], 0);
    out.y.backward(Tensor::ones({6, 4}));
    EXPECT_FALSE((*moe->experts)[3]->gate_proj->weight.grad().defined());  // no graph reached it
    EXPECT_TRUE((*moe->experts)[out.tokens_per_expert[0] ? 0 : 1]->gate_proj->weight.grad().defined());
}

TEST(Moe, GradientsForBothPicksDroplessAndCapped) {
    for (const char* pick : {"topk", "gumbel"})
        for (double capacity : {0.0, 1.0}) {
            SCOPED_TRACE(std::string(pick) + " capacity " + std::to_string(capacity));
            Generator gen(7);
            auto moe = std::make_shared<MoeLayer>(4, 5, moe_config(pick, capacity), gen, 0.5);
            moe->to(DType::F64);
            Tensor x = testing::leaf({6, 4}, 8);
            std::vector<Tensor> in;
            for (auto& [name, t] : moe->named_parameters()) in.push_back(t);
            in.push_back(x);
            // The same noise on every evaluation: the routing must not change under a 1e-6 perturbation.
            EXPECT_GRADCHECK(
                [&](V) {
                    Generator noise(9);
                    MoeOutput o = moe->forward(x, &noise);
                    return o.y * 1.0 + (o.aux + o.z) * 0.5;
                },
                in);
        }
}

}  // namespace
}  // namespace mod::models
