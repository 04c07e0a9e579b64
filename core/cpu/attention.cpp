// RoPE and fused attention on the CPU.
//
// Attention runs per (batch, head) on blocks of kBlockRows query rows:
//   forward:  S = scale Q_b K^T (masked), lse = logsumexp_row(S), O_b = softmax(S) V
//   backward: P = exp(S - lse), dV += P^T dO_b, dP = dO_b V^T, D = rowsum(dO_b * O_b),
//             dS = P * (dP - D), dQ_b = scale dS K, dK += scale dS^T Q_b
// Only a kBlockRows x S score block lives at a time. Backward runs per key/value head so
// the query heads that share it add into dK, dV on one thread: no races, deterministic.
//
// Layout: q, k, v, dout are read with any strides whose rows (Dh) are contiguous, so the
// projections' (B, T, heads, Dh) output, viewed as (B, heads, T, Dh), is read in place. The
// output and the gradients are written token-major the same way: the caller's
// out.transpose(1, 2).reshape(B, T, H * Dh) before o_proj, and the head split's backward,
// are then views instead of copies.
#include "core/cpu/attention.h"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/cpu/loops.h"

namespace mod::cpu {

namespace {

constexpr int64_t kBlockRows = 64;

template <typename T>
using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
// One head's (tokens, Dh) rows at a row stride.
template <typename T>
using CHead = Eigen::Map<const RowMat<T>, 0, Eigen::OuterStride<>>;
template <typename T>
using MHead = Eigen::Map<RowMat<T>, 0, Eigen::OuterStride<>>;

// A (B, heads, tokens, Dh) tensor with contiguous rows: where head (b, h) starts and the
// stride between its rows.
template <typename T>
struct Heads {
    T* data;
    int64_t sb, sh, st, tokens, Dh;
    explicit Heads(const Tensor& t)
        : data(t.data<T>()), sb(t.strides()[0]), sh(t.strides()[1]), st(t.strides()[2]), tokens(t.size(2)),
          Dh(t.size(3)) {}
    T* row(int64_t b, int64_t h, int64_t t) const { return data + b * sb + h * sh + t * st; }
    CHead<T> head(int64_t b, int64_t h) const {
        return CHead<T>(row(b, h, 0), tokens, Dh, Eigen::OuterStride<>(st));
    }
    MHead<T> mut_head(int64_t b, int64_t h) const {
        return MHead<T>(row(b, h, 0), tokens, Dh, Eigen::OuterStride<>(st));
    }
};

// (B, heads, T, Dh) memory laid out token-major, (B, T, heads, Dh), seen as (B, heads, T, Dh).
Tensor token_major(const Shape& s, DType dtype, bool zeroed) {
    const Shape tokens_first{s[0], s[2], s[1], s[3]};
    return (zeroed ? Tensor::zeros(tokens_first, dtype) : Tensor::empty(tokens_first, dtype)).transpose(1, 2);
}

struct Dims {
    int64_t B, H, Hkv, T, S, Dh;
    int64_t offset;  // S - T: how far the causal diagonal is shifted right
};

Dims dims_of(const Tensor& q, const Tensor& k) {
    return {q.size(0), q.size(1), k.size(1), q.size(2), k.size(2), q.size(3), k.size(2) - q.size(2)};
}

// Number of keys row i of the block may see.
int64_t visible_keys(const Dims& d, int64_t row, bool causal) {
    return causal ? std::min(d.S, row + d.offset + 1) : d.S;
}

// Fills scores (rows, s_end) = scale * Q_rows K^T with causal masking to -inf.
template <typename T>
void block_scores(RowMat<T>& scores, const CHead<T>& Q, const CHead<T>& K, const Dims& d, int64_t r0, int64_t rows,
                  int64_t s_end, bool causal, T scale) {
    scores.noalias() = scale * (Q.middleRows(r0, rows) * K.topRows(s_end).transpose());
    if (!causal) return;
    for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = visible_keys(d, r0 + i, true); j < s_end; ++j)
            scores(i, j) = -std::numeric_limits<T>::infinity();
}

}  // namespace

Tensor rope(const Tensor& x, const Tensor& positions, double theta, double sign) {
    const int64_t B = x.size(0), H = x.size(1), T = x.size(2), Dh = x.size(3), half = Dh / 2;
    // The output keeps x's layout when x is token-major (the attention path's q and k).
    const bool tokens_first = !x.is_contiguous() && x.transpose(1, 2).is_contiguous();
    Tensor out = tokens_first ? token_major(x.shape(), x.dtype(), false) : Tensor::empty(x.shape(), x.dtype());
    const int64_t* pp = positions.data<int64_t>();
    // cos and sin in double per position p and frequency i: angle = p * theta^(-2i/Dh). The
    // table covers the positions' range when that is no longer than B * T (the batch rows
    // share their positions: one row's worth of cos/sin instead of B), else one row per
    // (b, t). Every head reads it. Same values either way.
    const auto [lo_it, hi_it] = std::minmax_element(pp, pp + B * T);
    const bool empty = B * T == 0;
    const int64_t lo = empty ? 0 : *lo_it, span = empty ? 0 : *hi_it - lo + 1;
    const bool by_position = span <= B * T;
    const int64_t table_rows = by_position ? span : B * T;
    std::vector<double> inv_freq(half);
    for (int64_t i = 0; i < half; ++i) inv_freq[i] = std::pow(theta, -2.0 * i / Dh);
    std::vector<double> cos_t(table_rows * half), sin_t(table_rows * half);
    parallel_for(table_rows, kParallelGrain / (4 * half + 1), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            const double p = static_cast<double>(by_position ? lo + r : pp[r]);
            for (int64_t i = 0; i < half; ++i) {
                cos_t[r * half + i] = std::cos(p * inv_freq[i]);
                sin_t[r * half + i] = sign * std::sin(p * inv_freq[i]);
            }
        }
    });
    auto table_row = [&](int64_t b, int64_t t) { return (by_position ? pp[b * T + t] - lo : b * T + t) * half; };
    dispatch_float(x.dtype(), "rope", [&](auto z) {
        using Tp = decltype(z);
        const Heads<Tp> xh(x), oh(out);
        parallel_for(B * H * T, kParallelGrain / (Dh + 1), [&](int64_t b0, int64_t e0) {
            for (int64_t r = b0; r < e0; ++r) {
                // Rows in memory order: (b, t, h) when token-major, else (b, h, t).
                const int64_t b = r / (H * T);
                const int64_t h = tokens_first ? r % H : r / T % H, t = tokens_first ? r / H % T : r % T;
                const double* c = &cos_t[table_row(b, t)];
                const double* s = &sin_t[table_row(b, t)];
                const Tp* xr = xh.row(b, h, t);
                Tp* o = oh.row(b, h, t);
                for (int64_t i = 0; i < half; ++i) {
                    const Tp x1 = xr[i], x2 = xr[i + half];
                    o[i] = Tp(x1 * c[i] - x2 * s[i]);
                    o[i + half] = Tp(x2 * c[i] + x1 * s[i]);
                }
            }
        });
    });
    return out;
}

AttentionForward attention_forward(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, double scale) {
    const Dims d = dims_of(q, k);
    AttentionForward fwd{token_major(q.shape(), q.dtype(), false), Tensor::empty({d.B, d.H, d.T}, q.dtype())};
    dispatch_float(q.dtype(), "attention", [&](auto z) {
        using Tp = decltype(z);
        const Tp s = Tp(scale);
        const int64_t group = d.H / d.Hkv;
        const Heads<Tp> qh(q), kh(k), vh(v), oh(fwd.out);
#pragma omp parallel
        {
            RowMat<Tp> scores;
#pragma omp for schedule(dynamic, 1)
            for (int64_t bh = 0; bh < d.B * d.H; ++bh) {
                const int64_t b = bh / d.H, h = bh % d.H, kvh = h / group;
                const CHead<Tp> Q = qh.head(b, h), K = kh.head(b, kvh), V = vh.head(b, kvh);
                MHead<Tp> O = oh.mut_head(b, h);
                Tp* lse = fwd.lse.data<Tp>() + bh * d.T;
                for (int64_t r0 = 0; r0 < d.T; r0 += kBlockRows) {
                    const int64_t rows = std::min(kBlockRows, d.T - r0);
                    const int64_t s_end = visible_keys(d, r0 + rows - 1, causal);
                    scores.resize(rows, s_end);
                    block_scores<Tp>(scores, Q, K, d, r0, rows, s_end, causal, s);
                    for (int64_t i = 0; i < rows; ++i) {
                        const Tp m = scores.row(i).maxCoeff();
                        scores.row(i) = (scores.row(i).array() - m).exp();
                        const Tp l = scores.row(i).sum();
                        lse[r0 + i] = m + std::log(l);
                        scores.row(i) /= l;
                    }
                    O.middleRows(r0, rows).noalias() = scores * V.topRows(s_end);
                }
            }
        }
    });
    return fwd;
}

AttentionGrads attention_backward(const Tensor& dout, const Tensor& q, const Tensor& k, const Tensor& v,
                                  const Tensor& out, const Tensor& lse, bool causal, double scale) {
    const Dims d = dims_of(q, k);
    AttentionGrads g{token_major(q.shape(), q.dtype(), false), token_major(k.shape(), k.dtype(), true),
                     token_major(v.shape(), v.dtype(), true)};
    dispatch_float(q.dtype(), "attention_backward", [&](auto z) {
        using Tp = decltype(z);
        const Tp s = Tp(scale);
        const int64_t group = d.H / d.Hkv;
        const Heads<Tp> qh(q), kh(k), vh(v), oh(out), doh(dout), dqh(g.dq), dkh(g.dk), dvh(g.dv);
#pragma omp parallel
        {
            RowMat<Tp> P, dP;
            Eigen::Matrix<Tp, Eigen::Dynamic, 1> D;
#pragma omp for schedule(dynamic, 1)
            for (int64_t bkv = 0; bkv < d.B * d.Hkv; ++bkv) {
                const int64_t b = bkv / d.Hkv, kvh = bkv % d.Hkv;
                const CHead<Tp> K = kh.head(b, kvh), V = vh.head(b, kvh);
                MHead<Tp> dK = dkh.mut_head(b, kvh), dV = dvh.mut_head(b, kvh);
                for (int64_t h = kvh * group; h < (kvh + 1) * group; ++h) {
                    const CHead<Tp> Q = qh.head(b, h), O = oh.head(b, h), dO = doh.head(b, h);
                    MHead<Tp> dQ = dqh.mut_head(b, h);
                    const Tp* L = lse.data<Tp>() + (b * d.H + h) * d.T;
                    for (int64_t r0 = 0; r0 < d.T; r0 += kBlockRows) {
                        const int64_t rows = std::min(kBlockRows, d.T - r0);
                        const int64_t s_end = visible_keys(d, r0 + rows - 1, causal);
                        P.resize(rows, s_end);
                        block_scores<Tp>(P, Q, K, d, r0, rows, s_end, causal, s);
                        for (int64_t i = 0; i < rows; ++i) P.row(i) = (P.row(i).array() - L[r0 + i]).exp();
                        auto dO_b = dO.middleRows(r0, rows);
                        dV.topRows(s_end).noalias() += P.transpose() * dO_b;
                        dP.noalias() = dO_b * V.topRows(s_end).transpose();
                        D = (dO_b.array() * O.middleRows(r0, rows).array()).rowwise().sum();
                        dP = P.array() * (dP.colwise() - D).array();  // dS
                        dQ.middleRows(r0, rows).noalias() = s * (dP * K.topRows(s_end));
                        dK.topRows(s_end).noalias() += s * (dP.transpose() * Q.middleRows(r0, rows));
                    }
                }
            }
        }
    });
    return g;
}

}  // namespace mod::cpu
