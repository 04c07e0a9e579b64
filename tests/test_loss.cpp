// Fused losses against their definitions composed from log_softmax / gather, and
// gradient checks including ignore_index, label smoothing and temperature.
#include <functional>
#include <limits>

#include "core/elementwise.h"
#include "core/index.h"
#include "core/loss.h"
#include "core/reduce.h"
#include "core/softmax.h"
#include "testing.h"

namespace mod {
namespace {

using testing::leaf;
using V = const std::vector<Tensor>&;

TEST(Loss, CrossEntropyMatchesDefinition) {
    Tensor z = leaf({4, 6}, 1).detach();
    Tensor t = Tensor::from_vector<int64_t>({5, 0, 3, 3}, {4});
    Tensor nll = neg(gather(log_softmax(z, 1), 1, t.unsqueeze(1)));
    EXPECT_NEAR(cross_entropy(z, t).item(), mean(nll).item(), 1e-12);
    // Ignored rows leave the mean: rows 0 and 2 only.
    Tensor ti = Tensor::from_vector<int64_t>({5, -100, 3, -100}, {4});
    std::vector<double> n = nll.to_vector<double>();
    EXPECT_NEAR(cross_entropy(z, ti).item(), (n[0] + n[2]) / 2, 1e-12);
    // Label smoothing: (1 - eps) nll + eps * mean_v(-log p).
    const double eps = 0.1;
    Tensor smooth = mean(neg(log_softmax(z, 1)), {1}, true);
    Tensor ref = mean(nll * (1 - eps) + smooth * eps);
    EXPECT_NEAR(cross_entropy(z, t, -100, eps).item(), ref.item(), 1e-12);
    // Every row ignored: zero loss, zero gradient, no NaN.
    Tensor zl = leaf({2, 3}, 2);
    Tensor none = cross_entropy(zl, Tensor::full({2}, -100, DType::I64));
    EXPECT_EQ(none.item(), 0.0);
    none.backward();
    EXPECT_EQ(sum(abs(zl.grad())).item(), 0.0);
}

TEST(Loss, CrossEntropyGradients) {
    Tensor t = Tensor::from_vector<int64_t>({1, -100, 4}, {3});
    EXPECT_GRADCHECK([&](V x) { return cross_entropy(x[0], t); }, {leaf({3, 5}, 1)});
    EXPECT_GRADCHECK([&](V x) { return cross_entropy(x[0], t, -100, 0.2); }, {testing::transposed_leaf({3, 5}, 2)});
    EXPECT_GRADCHECK([&](V x) { return cross_entropy(x[0], t) * 3.0; }, {leaf({3, 5}, 3)});
}

TEST(Loss, CrossEntropyBadTargets) {
    Tensor z = Tensor::zeros({2, 3});
    EXPECT_THROW(cross_entropy(z, Tensor::from_vector<int64_t>({0, 3}, {2})), ValueError);
    EXPECT_THROW(cross_entropy(z, Tensor::from_vector<int64_t>({0}, {1})), ShapeError);
    EXPECT_THROW(cross_entropy(z, Tensor::zeros({2})), DTypeError);
}

TEST(Loss, SoftCrossEntropyAndKl) {
    Tensor z = leaf({3, 5}, 1).detach(), t = leaf({3, 5}, 2).detach();
    for (double tau : {1.0, 2.0}) {
        Tensor pt = softmax(t / tau, 1);
        Tensor ref = mean(sum(neg(pt * log_softmax(z / tau, 1)), {1})) * (tau * tau);
        EXPECT_NEAR(soft_cross_entropy(z, t, tau).item(), ref.item(), 1e-12);
        Tensor kl = mean(sum(pt * (log_softmax(t / tau, 1) - log_softmax(z / tau, 1)), {1})) * (tau * tau);
        EXPECT_NEAR(kl_div(z, t, tau).item(), kl.item(), 1e-12);
    }
    EXPECT_NEAR(kl_div(t, t).item(), 0.0, 1e-12);
}

// The float32 kernels (vectorised exp, row sums in 16 lanes) against the float64 ones on a
// vocabulary that is no multiple of 16, forward and gradients; a masked entry (-inf) gets
// probability exactly 0.
TEST(Loss, Float32KernelsMatchFloat64) {
    const int64_t N = 5, Vocab = 1003;
    const Tensor z64 = leaf({N, Vocab}, 11, 4.0).detach(), t64 = leaf({N, Vocab}, 12, 4.0).detach();
    const Tensor targets = Tensor::from_vector<int64_t>({0, 1002, 17, -100, 500}, {N});
    auto run = [&](DType dtype, const std::function<Tensor(const Tensor&, const Tensor&)>& loss) {
        Tensor z = z64.to(dtype).clone().detach().requires_grad_();
        Tensor t = t64.to(dtype).clone().detach().requires_grad_();
        Tensor l = loss(z, t);
        l.backward();
        return std::vector<std::vector<double>>{{l.item()}, z.grad().to_vector<double>(), t.grad().to_vector<double>()};
    };
    auto expect_match = [&](const char* what, const std::function<Tensor(const Tensor&, const Tensor&)>& loss) {
        SCOPED_TRACE(what);
        const auto f32 = run(DType::F32, loss), f64 = run(DType::F64, loss);
        for (size_t k = 0; k < f32.size(); ++k)
            for (size_t i = 0; i < f32[k].size(); ++i)
                ASSERT_NEAR(f32[k][i], f64[k][i], 2e-5 * std::max(1.0, std::abs(f64[k][i])))
                    << "part " << k << " at " << i;
    };
    expect_match("cross_entropy", [&](const Tensor& z, const Tensor& t) {
        return cross_entropy(z, targets, -100, 0.1) + sum(t) * 0.0;  // t: no gradient, zeros on both sides
    });
    expect_match("soft_cross_entropy", [](const Tensor& z, const Tensor& t) { return soft_cross_entropy(z, t, 2.0); });
    expect_match("log_softmax", [](const Tensor& z, const Tensor& t) { return sum(log_softmax(z, 1) * softmax(t, 1)); });
    Tensor masked = Tensor::from_vector<float>({0.5f, -std::numeric_limits<float>::infinity(), 2.0f}, {3});
    EXPECT_EQ(softmax(masked, 0).to_vector<float>()[1], 0.0f);
}

TEST(Loss, SoftCrossEntropyGradients) {
    EXPECT_GRADCHECK([](V x) { return soft_cross_entropy(x[0], x[1]); }, {leaf({3, 4}, 1), leaf({3, 4}, 2)});
    EXPECT_GRADCHECK([](V x) { return soft_cross_entropy(x[0], x[1], 2.0); },
                     {testing::transposed_leaf({3, 4}, 3), leaf({3, 4}, 4)});
    EXPECT_GRADCHECK([](V x) { return kl_div(x[0], x[1], 1.5); }, {leaf({2, 5}, 5), leaf({2, 5}, 6)});
    EXPECT_THROW(soft_cross_entropy(Tensor::zeros({2, 3}), Tensor::zeros({2, 4})), ShapeError);
    EXPECT_THROW(soft_cross_entropy(Tensor::zeros({2, 3}), Tensor::zeros({2, 3}), 0.0), ValueError);
}

}  // namespace
}  // namespace mod
