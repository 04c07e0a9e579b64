// softmax / log_softmax against exp/sum by hand, on any dim, with gradients.
#include <cmath>

#include "core/elementwise.h"
#include "core/reduce.h"
#include "core/softmax.h"
#include "testing.h"

namespace mod {
namespace {

using testing::leaf;
using V = const std::vector<Tensor>&;

TEST(Softmax, MatchesDefinitionOnAnyDim) {
    Tensor x = leaf({3, 4, 5}, 1).detach();
    for (int64_t dim : {0, 1, 2, -1}) {
        Tensor ref = div(exp(x), sum(exp(x), {dim}, true));
        std::vector<double> got = softmax(x, dim).to_vector<double>(), want = ref.to_vector<double>();
        for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-14);
        std::vector<double> lg = log_softmax(x, dim).to_vector<double>();
        for (size_t i = 0; i < lg.size(); ++i) EXPECT_NEAR(lg[i], std::log(want[i]), 1e-13);
    }
}

TEST(Softmax, StableForLargeLogits) {
    Tensor x = Tensor::from_vector<float>({1000, 1001, 1002}, {3});
    std::vector<float> p = softmax(x, 0).to_vector<float>();
    EXPECT_NEAR(p[2], 0.66524096f, 1e-6);
    EXPECT_TRUE(std::isfinite(log_softmax(x, 0).to_vector<float>()[0]));
}

TEST(Softmax, Gradients) {
    EXPECT_GRADCHECK([](V x) { return softmax(x[0], -1); }, {leaf({3, 5}, 1)});
    EXPECT_GRADCHECK([](V x) { return softmax(x[0], 0); }, {testing::transposed_leaf({3, 5}, 2)});
    EXPECT_GRADCHECK([](V x) { return log_softmax(x[0], 1); }, {leaf({2, 4, 3}, 3)});
    EXPECT_GRADCHECK([](V x) { return log_softmax(x[0], -1); }, {testing::transposed_leaf({4, 3}, 4)});
}

}  // namespace
}  // namespace mod
