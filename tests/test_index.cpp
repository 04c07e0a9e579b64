// embedding, index_select, gather, scatter_add, top-k: values, gradients, bounds errors.
#include "core/elementwise.h"
#include "core/index.h"
#include "core/reduce.h"
#include "testing.h"

namespace mod {
namespace {

using testing::leaf;
using V = const std::vector<Tensor>&;

TEST(Index, EmbeddingGathersRowsAndScatterAddsBack) {
    Tensor w = Tensor::from_vector<double>({0, 1, 10, 11, 20, 21}, {3, 2}).requires_grad_();
    Tensor ids = Tensor::from_vector<int64_t>({2, 0, 2}, {1, 3});
    Tensor e = embedding(w, ids);
    EXPECT_EQ(e.shape(), (Shape{1, 3, 2}));
    EXPECT_EQ(e.to_vector<double>(), (std::vector<double>{20, 21, 0, 1, 20, 21}));
    sum(e).backward();
    EXPECT_EQ(w.grad().to_vector<double>(), (std::vector<double>{1, 1, 0, 0, 2, 2}));  // row 2 used twice
    EXPECT_GRADCHECK([&](V x) { return embedding(x[0], ids); }, {leaf({3, 4}, 1)});
    try {
        embedding(w, Tensor::from_vector<int64_t>({3}, {1}));
        FAIL();
    } catch (const ValueError& e2) {
        EXPECT_STREQ(e2.what(), "[embedding] indices in [0, 3) expected, got 3 at position 0");
    }
    EXPECT_THROW(embedding(w, Tensor::zeros({2})), DTypeError);
}

TEST(Index, IndexSelectAnyDim) {
    Tensor x = Tensor::from_vector<double>({0, 1, 2, 3, 4, 5}, {2, 3});
    Tensor idx = Tensor::from_vector<int32_t>({2, 0}, {2});
    EXPECT_EQ(index_select(x, 1, idx).to_vector<double>(), (std::vector<double>{2, 0, 5, 3}));
    EXPECT_GRADCHECK([&](V in) { return index_select(in[0], 1, idx); }, {leaf({2, 3, 2}, 1)});
    EXPECT_GRADCHECK([&](V in) { return index_select(in[0], 0, Tensor::from_vector<int64_t>({1, 1, 0}, {3})); },
                     {testing::transposed_leaf({4, 2}, 2)});
}

TEST(Index, IndexAddIsTheInverseOfIndexSelect) {
    Tensor x = Tensor::zeros({3, 2}, DType::F64);
    Tensor src = Tensor::from_vector<double>({1, 2, 3, 4, 5, 6}, {3, 2});
    Tensor idx = Tensor::from_vector<int64_t>({2, 0, 2}, {3});
    EXPECT_EQ(index_add(x, 0, idx, src).to_vector<double>(), (std::vector<double>{3, 4, 0, 0, 6, 8}));
    EXPECT_GRADCHECK([&](V in) { return index_add(in[0], 0, idx, in[1]); }, {leaf({3, 2}, 1), leaf({3, 2}, 2)});
    EXPECT_GRADCHECK([&](V in) { return index_add(in[0], 1, idx, in[1]); },
                     {testing::transposed_leaf({2, 3}, 3), leaf({2, 3}, 4)});
    EXPECT_THROW(index_add(x, 0, idx, Tensor::zeros({2, 2}, DType::F64)), ShapeError);
    EXPECT_THROW(index_add(x, 0, Tensor::from_vector<int64_t>({0, 0, 3}, {3}), src), ValueError);
}

TEST(Index, GatherAndScatterAdd) {
    Tensor x = Tensor::from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3});
    Tensor idx = Tensor::from_vector<int64_t>({2, 2, 0, 1}, {2, 2});
    EXPECT_EQ(gather(x, 1, idx).to_vector<double>(), (std::vector<double>{3, 3, 4, 5}));
    Tensor src = Tensor::from_vector<double>({10, 20, 30, 40}, {2, 2});
    EXPECT_EQ(scatter_add(x, 1, idx, src).to_vector<double>(), (std::vector<double>{1, 2, 33, 34, 45, 6}));
    EXPECT_GRADCHECK([&](V in) { return gather(in[0], 1, idx); }, {leaf({2, 3}, 1)});
    Tensor idx0 = Tensor::from_vector<int64_t>({1, 0, 1, 1, 0, 0}, {3, 2}).transpose(0, 1).contiguous();
    EXPECT_GRADCHECK([&](V in) { return gather(in[0], 0, idx0); }, {leaf({2, 3}, 2)});
    EXPECT_GRADCHECK([&](V in) { return scatter_add(in[0], 1, idx, in[1]); }, {leaf({2, 3}, 3), leaf({2, 2}, 4)});
    EXPECT_THROW(gather(x, 1, Tensor::from_vector<int64_t>({0}, {1, 1})), ShapeError);
    EXPECT_THROW(scatter_add(x, 1, idx, Tensor::zeros({2, 3}, DType::F64)), ShapeError);
}

TEST(Index, TopkValuesIndicesAndGradient) {
    Tensor x = Tensor::from_vector<double>({3, 1, 4, 1, 5, 9, 2, 6}, {2, 4});
    auto [v, i] = topk(x, 2);
    EXPECT_EQ(v.to_vector<double>(), (std::vector<double>{4, 3, 9, 6}));
    EXPECT_EQ(i.to_vector<int64_t>(), (std::vector<int64_t>{2, 0, 1, 3}));
    auto [vs, is] = topk(x, 1, -1, /*largest=*/false);
    EXPECT_EQ(is.to_vector<int64_t>(), (std::vector<int64_t>{1, 2}));  // ties: the lower index
    auto [v0, i0] = topk(x, 1, 0);
    EXPECT_EQ(v0.to_vector<double>(), (std::vector<double>{5, 9, 4, 6}));
    EXPECT_GRADCHECK([](V in) { return topk(in[0], 2, 1).first; }, {leaf({3, 5}, 1)});
    EXPECT_GRADCHECK([](V in) { return topk(in[0], 2, 0).first; }, {testing::transposed_leaf({4, 3}, 2)});
    EXPECT_THROW(topk(x, 5), ValueError);
}

}  // namespace
}  // namespace mod
