// Views share storage and never copy; each is differentiable; cat/stack/split/chunk.
#include "core/elementwise.h"
#include "core/reduce.h"
#include "core/view.h"
#include "testing.h"

namespace mod {
namespace {

using testing::leaf;

TEST(View, ViewsShareStorage) {
    Tensor x = Tensor::from_vector<float>({0, 1, 2, 3, 4, 5}, {2, 3});
    Tensor t = x.transpose(0, 1);
    EXPECT_EQ(t.storage(), x.storage());
    EXPECT_EQ(t.shape(), (Shape{3, 2}));
    EXPECT_EQ(t.strides(), (Strides{1, 3}));
    EXPECT_FALSE(t.is_contiguous());
    EXPECT_EQ(t.contiguous().to_vector<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
    EXPECT_EQ(x.narrow(1, 1, 2).to_vector<float>(), (std::vector<float>{1, 2, 4, 5}));
    EXPECT_EQ(x.narrow(1, 1, 2).offset(), 1);
    EXPECT_EQ(x.select(0, 1).to_vector<float>(), (std::vector<float>{3, 4, 5}));
    EXPECT_EQ(x.reshape({3, -1}).shape(), (Shape{3, 2}));
    EXPECT_EQ(x.reshape({6}).storage(), x.storage());
    EXPECT_EQ(x.unsqueeze(0).shape(), (Shape{1, 2, 3}));
    EXPECT_EQ(x.unsqueeze(-1).squeeze(2).shape(), (Shape{2, 3}));
    EXPECT_EQ(x.flatten().shape(), (Shape{6}));
    Tensor e = Tensor::from_vector<float>({1, 2}, {2, 1}).expand({2, 4});
    EXPECT_EQ(e.strides()[1], 0);
    EXPECT_EQ(e.to_vector<float>(), (std::vector<float>{1, 1, 1, 1, 2, 2, 2, 2}));
    EXPECT_EQ(x.permute({1, 0}).permute({1, 0}).to_vector<float>(), x.to_vector<float>());
}

TEST(View, ReshapeOfTransposeCopiesAndViewRefuses) {
    Tensor x = Tensor::zeros({2, 3}).transpose(0, 1);
    EXPECT_THROW(x.view({6}), ShapeError);
    Tensor r = x.reshape({6});
    EXPECT_NE(r.storage(), x.storage());
    // A view of a narrowed, still-regular layout works without a copy.
    Tensor y = Tensor::zeros({4, 6}).narrow(0, 1, 2);
    EXPECT_EQ(y.view({2, 2, 3}).storage(), y.storage());
}

TEST(View, BadArgumentsRaise) {
    Tensor x = Tensor::zeros({2, 3});
    EXPECT_THROW(x.reshape({4, 2}), ShapeError);
    EXPECT_THROW(x.reshape({-1, -1}), ValueError);
    EXPECT_THROW(x.permute({0, 0}), ValueError);
    EXPECT_THROW(x.narrow(1, 2, 2), ValueError);
    EXPECT_THROW(x.squeeze(0), ShapeError);
    EXPECT_THROW(x.expand({3, 3}), ShapeError);
    EXPECT_THROW(x.transpose(0, 2), ValueError);
    EXPECT_THROW(cat({x, Tensor::zeros({2, 2, 1})}, 0), ShapeError);
    EXPECT_THROW(split(x, {1, 1}, 1), ShapeError);
}

TEST(View, GradientsOfEveryView) {
    using V = const std::vector<Tensor>&;
    EXPECT_GRADCHECK([](V x) { return x[0].reshape({3, 4}) * 2.0; }, {leaf({2, 6}, 1)});
    EXPECT_GRADCHECK([](V x) { return x[0].transpose(0, 1).reshape({-1}); }, {leaf({2, 3}, 2)});
    EXPECT_GRADCHECK([](V x) { return x[0].permute({2, 0, 1}) * 1.0; }, {leaf({2, 3, 4}, 3)});
    EXPECT_GRADCHECK([](V x) { return x[0].narrow(1, 1, 2) * 3.0; }, {leaf({2, 4}, 4)});
    EXPECT_GRADCHECK([](V x) { return x[0].expand({3, 2, 4}) * 1.0; }, {leaf({2, 1}, 5)});
    EXPECT_GRADCHECK([](V x) { return x[0].unsqueeze(1).squeeze(1) * 1.0; }, {leaf({3}, 6)});
    EXPECT_GRADCHECK([](V x) { return x[0].select(0, 1) * x[0].select(0, 0); }, {leaf({2, 3}, 7)});
    EXPECT_GRADCHECK([](V x) { return x[0].clone() * 2.0; }, {testing::transposed_leaf({3, 2}, 8)});
}

TEST(View, CatStackSplitChunk) {
    Tensor a = Tensor::from_vector<float>({1, 2}, {1, 2}), b = Tensor::from_vector<float>({3, 4, 5, 6}, {2, 2});
    EXPECT_EQ(cat({a, b}, 0).to_vector<float>(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
    EXPECT_EQ(cat({b, b}, 1).shape(), (Shape{2, 4}));
    EXPECT_EQ(stack({a, a}, 0).shape(), (Shape{2, 1, 2}));
    auto parts = split(b, {1, 1}, 0);
    EXPECT_EQ(parts[1].to_vector<float>(), (std::vector<float>{5, 6}));
    auto chunks = chunk(Tensor::zeros({5, 2}), 2, 0);
    ASSERT_EQ(chunks.size(), 2u);
    EXPECT_EQ(chunks[0].size(0), 3);
    EXPECT_EQ(chunks[1].size(0), 2);

    using V = const std::vector<Tensor>&;
    EXPECT_GRADCHECK([](V x) { return cat({x[0], x[1] * 2.0, x[0]}, 1); }, {leaf({2, 3}, 1), leaf({2, 1}, 2)});
    EXPECT_GRADCHECK([](V x) { return stack({x[0], x[1]}, 1); }, {leaf({2, 3}, 3), leaf({2, 3}, 4)});
    EXPECT_GRADCHECK(
        [](V x) {
            auto p = split(x[0], {1, 3}, 1);
            return p[0] * p[1];
        },
        {leaf({2, 4}, 5)});
    EXPECT_GRADCHECK(
        [](V x) {
            auto c = chunk(x[0], 3, 0);
            return c[0] + c[2] * c[1];
        },
        {leaf({3, 2}, 6)});
}

TEST(View, DtypeConversionIsDifferentiable) {
    Tensor x = leaf({3}, 1);
    Tensor y = sum(x.to(DType::F32) * 2.0);
    y.backward();
    EXPECT_EQ(x.grad().dtype(), DType::F64);
    EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{2, 2, 2}));
}

}  // namespace
}  // namespace mod
