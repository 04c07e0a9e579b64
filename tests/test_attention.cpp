// RoPE against its formula; fused attention against attention composed from matmul,
// masked_fill and softmax (GQA by repeating key/value heads), forward and gradients.
#include <cmath>
#include <string>

#include "core/attention.h"
#include "core/elementwise.h"
#include "core/index.h"
#include "core/matmul.h"
#include "core/reduce.h"
#include "core/softmax.h"
#include "core/view.h"
#include "testing.h"

namespace mod {
namespace {

using testing::leaf;
using V = const std::vector<Tensor>&;

// softmax(q k^T s + mask) v with kv heads repeated to H query heads.
Tensor reference_attention(const Tensor& q, const Tensor& k, const Tensor& v, bool causal) {
    const int64_t H = q.size(1), Hkv = k.size(1), T = q.size(2), S = k.size(2);
    std::vector<int64_t> heads;
    for (int64_t h = 0; h < H; ++h) heads.push_back(h / (H / Hkv));
    Tensor head_idx = Tensor::from_vector<int64_t>(heads, {H});
    Tensor kk = index_select(k, 1, head_idx), vv = index_select(v, 1, head_idx);
    Tensor scores = matmul(q, kk.transpose(-1, -2)) * (1.0 / std::sqrt(double(q.size(3))));
    if (causal) {
        std::vector<double> m(T * S);
        for (int64_t i = 0; i < T; ++i)
            for (int64_t j = 0; j < S; ++j) m[i * S + j] = j > i + (S - T) ? 1.0 : 0.0;
        scores = masked_fill(scores, gt(Tensor::from_vector<double>(m, {T, S}), 0.5), -1e300);
    }
    return matmul(softmax(scores, -1), vv);
}

void expect_close(const Tensor& a, const Tensor& b, double tol) {
    std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
    ASSERT_EQ(x.size(), y.size());
    for (size_t i = 0; i < x.size(); ++i) ASSERT_NEAR(x[i], y[i], tol) << "at " << i;
}

TEST(Attention, MatchesReferenceWithGqaCausalAndOffset) {
    // T = 150 spans three row blocks of the kernel; S > T exercises the KV-cache offset.
    for (bool causal : {false, true}) {
        Tensor q = leaf({2, 4, 150, 8}, 1).detach(), k = leaf({2, 2, 170, 8}, 2).detach(),
               v = leaf({2, 2, 170, 8}, 3).detach();
        expect_close(scaled_dot_product_attention(q, k, v, causal), reference_attention(q, k, v, causal), 1e-12);
    }
    Tensor q = leaf({1, 2, 5, 4}, 4).detach(), k = leaf({1, 2, 5, 4}, 5).detach(), v = leaf({1, 2, 5, 4}, 6).detach();
    // A decode step: one query at the end of the cache equals the last row of full attention.
    Tensor full = scaled_dot_product_attention(q, k, v, true);
    Tensor last = scaled_dot_product_attention(q.narrow(2, 4, 1), k, v, true);
    expect_close(last, full.narrow(2, 4, 1), 1e-14);
}

TEST(Attention, Gradients) {
    for (bool causal : {false, true}) {
        SCOPED_TRACE(causal ? "causal" : "full");
        EXPECT_GRADCHECK([causal](V x) { return scaled_dot_product_attention(x[0], x[1], x[2], causal); },
                         {leaf({1, 4, 3, 4}, 1), leaf({1, 2, 3, 4}, 2), leaf({1, 2, 3, 4}, 3)});
        EXPECT_GRADCHECK([causal](V x) { return scaled_dot_product_attention(x[0], x[1], x[2], causal, 0.3); },
                         {leaf({2, 1, 2, 2}, 4), leaf({2, 1, 4, 2}, 5), leaf({2, 1, 4, 2}, 6)});
    }
    // Non-contiguous q (the usual (B, T, H, Dh) -> (B, H, T, Dh) transpose).
    EXPECT_GRADCHECK([](V x) { return scaled_dot_product_attention(x[0].transpose(1, 2), x[1], x[2], true); },
                     {leaf({1, 3, 2, 2}, 7), leaf({1, 1, 3, 2}, 8), leaf({1, 1, 3, 2}, 9)});
}

// The finite-difference checks above run on a few positions; the kernel works in row blocks,
// so the gradients of a sequence of several blocks (a quickstart relation answer ends near
// position 100) are compared with those of the composed reference, with the teacher's five
// query heads on one key/value head, in float64 and in float32 (the training dtype).
TEST(Attention, GradientsOfLongSequencesMatchReference) {
    const int64_t T = 150;
    for (DType dtype : {DType::F64, DType::F32}) {
        SCOPED_TRACE(dtype == DType::F64 ? "float64" : "float32");
        const double tol = dtype == DType::F64 ? 1e-10 : 2e-4;
        auto inputs = [&] {
            return std::vector<Tensor>{leaf({2, 5, T, 8}, 11).detach().to(dtype).requires_grad_(),
                                       leaf({2, 1, T, 8}, 12).detach().to(dtype).requires_grad_(),
                                       leaf({2, 1, T, 8}, 13).detach().to(dtype).requires_grad_()};
        };
        const Tensor weights = leaf({2, 5, T, 8}, 14).detach().to(dtype);
        std::vector<Tensor> fused = inputs(), composed = inputs();
        sum(scaled_dot_product_attention(fused[0], fused[1], fused[2], true) * weights).backward();
        sum(reference_attention(composed[0], composed[1], composed[2], true) * weights).backward();
        for (size_t i = 0; i < 3; ++i) {
            SCOPED_TRACE("operand " + std::to_string(i));
            expect_close(fused[i].grad(), composed[i].grad(), tol);
        }
    }
}

// The CPU path reads the head split of a projection in place and writes its output and
// gradients token-major, so that the merge of heads before o_proj is a view. Values equal
// those of contiguous operands; the gradients check in every operand and through rope.
TEST(Attention, TokenMajorOperandsAreReadInPlace) {
    Tensor q = leaf({2, 70, 4, 8}, 1).detach(), k = leaf({2, 70, 2, 8}, 2).detach(), v = leaf({2, 70, 2, 8}, 3).detach();
    Tensor qt = q.transpose(1, 2), kt = k.transpose(1, 2), vt = v.transpose(1, 2);  // (B, heads, T, Dh) views
    const Tensor out = scaled_dot_product_attention(qt, kt, vt, true);
    expect_close(out, scaled_dot_product_attention(qt.contiguous(), kt.contiguous(), vt.contiguous(), true), 0.0);
    EXPECT_TRUE(out.transpose(1, 2).is_contiguous());  // (B, T, H, Dh) memory: the head merge is free
    const Tensor pos = Tensor::from_vector<int64_t>({0, 1, 2}, {3});
    Tensor x = leaf({1, 3, 2, 4}, 4).detach();
    const Tensor rotated = rope(x.transpose(1, 2), pos, 10000.0);
    expect_close(rotated, rope(x.transpose(1, 2).contiguous(), pos, 10000.0), 0.0);
    EXPECT_TRUE(rotated.transpose(1, 2).is_contiguous());
    EXPECT_GRADCHECK(
        [&](V in) {
            Tensor qr = rope(in[0].transpose(1, 2), pos, 10000.0), kr = rope(in[1].transpose(1, 2), pos, 10000.0);
            return scaled_dot_product_attention(qr, kr, in[2].transpose(1, 2), true).transpose(1, 2).reshape({1, 3, 8});
        },
        {leaf({1, 3, 4, 2}, 5), leaf({1, 3, 2, 2}, 6), leaf({1, 3, 2, 2}, 7)});
}

TEST(Attention, BadShapes) {
    Tensor q = Tensor::zeros({1, 3, 4, 8}), k = Tensor::zeros({1, 2, 4, 8});
    EXPECT_THROW(scaled_dot_product_attention(q, k, k, false), ShapeError);  // 3 heads over 2 kv heads
    EXPECT_THROW(scaled_dot_product_attention(Tensor::zeros({1, 2, 5, 8}), k, k, true), ShapeError);
    EXPECT_THROW(scaled_dot_product_attention(Tensor::zeros({2, 8}), k, k, true), ShapeError);
}

TEST(Rope, MatchesFormulaAndIsInvertible) {
    Tensor x = leaf({1, 2, 3, 4}, 1).detach();
    Tensor pos = Tensor::from_vector<int64_t>({0, 5, 7}, {3});
    Tensor y = rope(x, pos, 10000.0);
    std::vector<double> xv = x.to_vector<double>(), yv = y.to_vector<double>();
    const int64_t t = 1, h = 1, i = 1;  // head 1, position 5, frequency index 1
    const double angle = 5 * std::pow(10000.0, -2.0 * i / 4);
    const int64_t base = (h * 3 + t) * 4;
    EXPECT_NEAR(yv[base + i], xv[base + i] * std::cos(angle) - xv[base + i + 2] * std::sin(angle), 1e-14);
    EXPECT_NEAR(yv[base + i + 2], xv[base + i + 2] * std::cos(angle) + xv[base + i] * std::sin(angle), 1e-14);
    // Position 0 is the identity.
    EXPECT_NEAR(yv[0], xv[0], 1e-15);
    // Relative: <rope(q, m), rope(k, n)> depends on m - n only.
    Tensor q = leaf({1, 1, 1, 4}, 2).detach(), k = leaf({1, 1, 1, 4}, 3).detach();
    auto dot_at = [&](int64_t m, int64_t n) {
        Tensor a = rope(q, Tensor::from_vector<int64_t>({m}, {1}), 100.0);
        Tensor b = rope(k, Tensor::from_vector<int64_t>({n}, {1}), 100.0);
        return matmul(a.reshape({1, 4}), b.reshape({4, 1})).item();
    };
    EXPECT_NEAR(dot_at(7, 3), dot_at(14, 10), 1e-12);
}

// Every element against the formula, for positions that batch rows share (the kernel's table
// by position) and for scattered ones (its table by row).
TEST(Rope, SharedAndScatteredPositionsMatchTheFormula) {
    const int64_t B = 2, H = 2, T = 3, Dh = 4;
    Tensor x = leaf({B, H, T, Dh}, 4).detach();
    for (const std::vector<int64_t>& p : {std::vector<int64_t>{2, 3, 4, 3, 4, 2}, std::vector<int64_t>{0, 40, 7, 1, 2, 90}}) {
        const std::vector<double> xv = x.to_vector<double>();
        const std::vector<double> yv = rope(x, Tensor::from_vector<int64_t>(p, {B, T}), 50.0).to_vector<double>();
        for (int64_t b = 0; b < B; ++b)
            for (int64_t h = 0; h < H; ++h)
                for (int64_t t = 0; t < T; ++t)
                    for (int64_t i = 0; i < Dh / 2; ++i) {
                        const double a = static_cast<double>(p[b * T + t]) * std::pow(50.0, -2.0 * i / Dh);
                        const int64_t r = ((b * H + h) * T + t) * Dh;
                        EXPECT_NEAR(yv[r + i], xv[r + i] * std::cos(a) - xv[r + i + 2] * std::sin(a), 1e-14);
                        EXPECT_NEAR(yv[r + i + 2], xv[r + i + 2] * std::cos(a) + xv[r + i] * std::sin(a), 1e-14);
                    }
    }
}

TEST(Rope, Gradients) {
    Tensor pos = Tensor::from_vector<int64_t>({3, 1, 4, 1, 5, 9}, {2, 3});
    EXPECT_GRADCHECK([&](V x) { return rope(x[0], pos, 1e6); }, {leaf({2, 2, 3, 4}, 1)});
    EXPECT_GRADCHECK([&](V x) { return rope(x[0].transpose(1, 2), pos, 10.0); }, {leaf({2, 3, 2, 4}, 2)});
    EXPECT_THROW(rope(Tensor::zeros({1, 1, 3, 5}), Tensor::arange(3), 1e4), ShapeError);
    EXPECT_THROW(rope(Tensor::zeros({1, 1, 3, 4}), Tensor::arange(4), 1e4), ShapeError);
}

}  // namespace
}  // namespace mod
