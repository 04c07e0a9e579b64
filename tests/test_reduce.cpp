// Reductions: values, keepdim, multi-dim, gradients, argmax.
#include <cmath>

#include "core/elementwise.h"
#include "core/reduce.h"
#include "testing.h"

namespace mod {
namespace {

using testing::leaf;
using V = const std::vector<Tensor>&;

TEST(Reduce, Values) {
    Tensor x = Tensor::from_vector<double>({1, 5, 3, 4, 2, 6}, {2, 3});
    EXPECT_DOUBLE_EQ(sum(x).item(), 21);
    EXPECT_EQ(sum(x, {0}).to_vector<double>(), (std::vector<double>{5, 7, 9}));
    EXPECT_EQ(sum(x, {1}, true).shape(), (Shape{2, 1}));
    EXPECT_EQ(mean(x, {1}).to_vector<double>(), (std::vector<double>{3, 4}));
    EXPECT_EQ(max(x, {1}).to_vector<double>(), (std::vector<double>{5, 6}));
    EXPECT_DOUBLE_EQ(max(x).item(), 6);
    EXPECT_EQ(argmax(x, 1).to_vector<int64_t>(), (std::vector<int64_t>{1, 2}));
    EXPECT_EQ(argmax(x, 0, true).shape(), (Shape{1, 3}));
    EXPECT_NEAR(logsumexp(x, {1}).to_vector<double>()[0], std::log(std::exp(1) + std::exp(5) + std::exp(3)), 1e-12);
    // Large inputs: the stable form does not overflow.
    Tensor big = Tensor::from_vector<double>({1000, 1000}, {2});
    EXPECT_NEAR(logsumexp(big).item(), 1000 + std::log(2.0), 1e-9);
}

TEST(Reduce, Gradients) {
    EXPECT_GRADCHECK([](V x) { return sum(x[0]); }, {leaf({2, 3}, 1)});
    EXPECT_GRADCHECK([](V x) { return sum(x[0], {0, 2}); }, {leaf({2, 3, 4}, 2)});
    EXPECT_GRADCHECK([](V x) { return sum(x[0], {-1}, true); }, {testing::transposed_leaf({3, 4}, 3)});
    EXPECT_GRADCHECK([](V x) { return mean(x[0], {1}); }, {leaf({2, 5}, 4)});
    EXPECT_GRADCHECK([](V x) { return max(x[0], {1}); }, {leaf({3, 4}, 5)});
    EXPECT_GRADCHECK([](V x) { return max(x[0], {0, 1}, true); }, {leaf({3, 4}, 6)});
    EXPECT_GRADCHECK([](V x) { return logsumexp(x[0], {1}); }, {leaf({3, 4}, 7)});
    EXPECT_GRADCHECK([](V x) { return logsumexp(x[0], {0}, true); }, {testing::transposed_leaf({3, 4}, 8)});
}

// Sums over leading dims of a contiguous tensor read its rows in place (cpu::column_sum):
// the same sums, bit for bit, as the transposed-rows path, in float32 and float64, with
// keepdim, widths past one column block, and gradients.
TEST(Reduce, LeadingDimSumsMatchTheRowPath) {
    for (DType dt : {DType::F32, DType::F64}) {
        Tensor x = (leaf({6, 7, 300}, 9).detach() * 3.0).to(dt);
        Tensor rows_path = sum(x.permute({2, 0, 1}).contiguous(), {1, 2});  // reduced dims last: row sums
        EXPECT_EQ(sum(x, {0, 1}).to_vector<double>(), rows_path.to_vector<double>());
        EXPECT_EQ(sum(x, {1, 0}, true).shape(), (Shape{1, 1, 300}));
        EXPECT_EQ(sum(x, {0}).shape(), (Shape{7, 300}));
        EXPECT_EQ(sum_to(x, {300}).to_vector<double>(), rows_path.to_vector<double>());
    }
    EXPECT_GRADCHECK([](V x) { return sum(x[0], {0}); }, {leaf({5, 3, 4}, 10)});
    EXPECT_GRADCHECK([](V x) { return sum(x[0], {0, 1}, true); }, {leaf({5, 3, 4}, 11)});
    EXPECT_THROW(sum(Tensor::zeros({2, 3}), {0, 0}), ValueError);
}

TEST(Reduce, SumToUndoesBroadcast) {
    Tensor g = Tensor::ones({2, 3, 4}, DType::F64);
    EXPECT_EQ(sum_to(g, {3, 1}).to_vector<double>(), (std::vector<double>{8, 8, 8}));
    EXPECT_EQ(sum_to(g, {4}).shape(), (Shape{4}));
    EXPECT_THROW(sum_to(g, {2, 4}), ShapeError);
}

TEST(Reduce, BadDims) {
    Tensor x = Tensor::zeros({2, 3});
    EXPECT_THROW(sum(x, {2}), ValueError);
    EXPECT_THROW(sum(x, {1, 1}), ValueError);
    EXPECT_THROW(max(Tensor::zeros({0, 2}), {0}), ShapeError);
}

}  // namespace
}  // namespace mod
