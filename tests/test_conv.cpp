// conv2d against direct loops, and gradient checks with stride, padding and overlap.
#include "core/conv.h"
#include "testing.h"

namespace mod {
namespace {

using testing::leaf;
using V = const std::vector<Tensor>&;

std::vector<double> naive_conv(const Tensor& x, const Tensor& w, const Tensor& b, int64_t stride, int64_t pad) {
    const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), O = w.size(0), kh = w.size(2),
                  kw = w.size(3);
    const int64_t Ho = (H + 2 * pad - kh) / stride + 1, Wo = (W + 2 * pad - kw) / stride + 1;
    std::vector<double> xv = x.to_vector<double>(), wv = w.to_vector<double>(), bv = b.to_vector<double>();
    std::vector<double> y(B * O * Ho * Wo, 0.0);
    for (int64_t n = 0; n < B; ++n)
        for (int64_t o = 0; o < O; ++o)
            for (int64_t oy = 0; oy < Ho; ++oy)
                for (int64_t ox = 0; ox < Wo; ++ox) {
                    double s = bv[o];
                    for (int64_t c = 0; c < C; ++c)
                        for (int64_t i = 0; i < kh; ++i)
                            for (int64_t j = 0; j < kw; ++j) {
                                int64_t yy = oy * stride - pad + i, xx = ox * stride - pad + j;
                                if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
                                s += xv[((n * C + c) * H + yy) * W + xx] * wv[((o * C + c) * kh + i) * kw + j];
                            }
                    y[((n * O + o) * Ho + oy) * Wo + ox] = s;
                }
    return y;
}

TEST(Conv, MatchesDirectLoops) {
    Tensor x = leaf({2, 3, 9, 7}, 1).detach(), w = leaf({4, 3, 3, 3}, 2).detach(), b = leaf({4}, 3).detach();
    for (auto [stride, pad] : {std::pair<int64_t, int64_t>{1, 0}, {2, 1}, {3, 2}}) {
        std::vector<double> got = conv2d(x, w, b, stride, pad).to_vector<double>(), want = naive_conv(x, w, b, stride, pad);
        ASSERT_EQ(got.size(), want.size());
        for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-12);
    }
    // A patch embedding: kernel = stride = patch.
    Tensor img = leaf({1, 3, 8, 8}, 4).detach(), pw = leaf({5, 3, 4, 4}, 5).detach();
    EXPECT_EQ(conv2d(img, pw, Tensor(), 4).shape(), (Shape{1, 5, 2, 2}));
}

TEST(Conv, Gradients) {
    EXPECT_GRADCHECK([](V x) { return conv2d(x[0], x[1], x[2], 2, 1); },
                     {leaf({2, 2, 5, 4}, 1), leaf({3, 2, 3, 3}, 2), leaf({3}, 3)});
    EXPECT_GRADCHECK([](V x) { return conv2d(x[0], x[1], Tensor(), 2); }, {leaf({1, 2, 4, 4}, 4), leaf({2, 2, 2, 2}, 5)});
}

TEST(Conv, BadShapes) {
    EXPECT_THROW(conv2d(Tensor::zeros({1, 3, 4, 4}), Tensor::zeros({2, 2, 3, 3}), Tensor()), ShapeError);
    EXPECT_THROW(conv2d(Tensor::zeros({1, 2, 2, 2}), Tensor::zeros({2, 2, 3, 3}), Tensor()), ShapeError);
    EXPECT_THROW(conv2d(Tensor::zeros({1, 2, 4, 4}), Tensor::zeros({2, 2, 3, 3}), Tensor(), 0), ValueError);
}

}  // namespace
}  // namespace mod
