// layer_norm and rms_norm against their definitions composed from primitives, and
// gradient checks of the fused backward (x, weight, bias).
#include "core/elementwise.h"
#include "core/norm.h"
#include "core/reduce.h"
#include "testing.h"

namespace mod {
namespace {

using testing::leaf;
using V = const std::vector<Tensor>&;

void expect_close(const Tensor& a, const Tensor& b, double tol) {
    std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
    ASSERT_EQ(x.size(), y.size());
    for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(x[i], y[i], tol) << "at " << i;
}

TEST(Norm, LayerNormMatchesDefinition) {
    Tensor x = leaf({2, 3, 8}, 1).detach(), w = leaf({8}, 2).detach(), b = leaf({8}, 3).detach();
    Tensor mu = mean(x, {-1}, true);
    Tensor var = mean(pow(x - mu, 2.0), {-1}, true);
    Tensor ref = (x - mu) / sqrt(var + 1e-5) * w + b;
    expect_close(layer_norm(x, w, b, 1e-5), ref, 1e-12);
    expect_close(layer_norm(x, Tensor(), Tensor(), 1e-5), (x - mu) / sqrt(var + 1e-5), 1e-12);
}

TEST(Norm, RmsNormMatchesDefinition) {
    Tensor x = leaf({4, 6}, 1).detach(), w = leaf({6}, 2).detach();
    Tensor ref = x * rsqrt(mean(x * x, {-1}, true) + 1e-6) * w;
    expect_close(rms_norm(x, w, 1e-6), ref, 1e-12);
}

TEST(Norm, Gradients) {
    EXPECT_GRADCHECK([](V x) { return layer_norm(x[0], x[1], x[2], 1e-5); },
                     {leaf({3, 7}, 1), leaf({7}, 2), leaf({7}, 3)});
    EXPECT_GRADCHECK([](V x) { return layer_norm(x[0], Tensor(), Tensor(), 1e-5); },
                     {testing::transposed_leaf({2, 5, 4}, 4)});
    EXPECT_GRADCHECK([](V x) { return rms_norm(x[0], x[1], 1e-6); }, {leaf({2, 3, 6}, 5), leaf({6}, 6)});
    EXPECT_GRADCHECK([](V x) { return rms_norm(x[0], Tensor(), 1e-6); }, {testing::transposed_leaf({5, 4}, 7)});
}

TEST(Norm, BadWeightShape) {
    EXPECT_THROW(layer_norm(Tensor::zeros({2, 4}), Tensor::zeros({3}), Tensor(), 1e-5), ShapeError);
    EXPECT_THROW(rms_norm(Tensor::zeros({2, 4}), Tensor::zeros({4}, DType::F64), 1e-5), DTypeError);
}

}  // namespace
}  // namespace mod
