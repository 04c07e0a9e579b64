#include "core/cpu/conv.h"

#include <algorithm>
#include <vector>

#include "core/cpu/loops.h"
#include "core/cpu/matmul.h"

namespace mod::cpu {

namespace {

// Visits the columns n = (b, oy, ox) of one column row r = (c, ki, kj) in order, each with
// its input pixel, or -1 where the patch reads padding. Nested loops rather than n divided
// back into (b, oy, ox): the divisions cost more than the copy they index.
template <typename F>
void for_each_pixel_of_row(const ConvGeometry& g, int64_t r, F f) {
    const int64_t c = r / (g.kh * g.kw), ki = (r / g.kw) % g.kh, kj = r % g.kw;
    int64_t n = 0;
    for (int64_t b = 0; b < g.B; ++b) {
        const int64_t plane = (b * g.C + c) * g.H;
        for (int64_t oy = 0; oy < g.Ho; ++oy) {
            const int64_t y = oy * g.stride - g.padding + ki;
            const bool row_inside = y >= 0 && y < g.H;
            for (int64_t ox = 0; ox < g.Wo; ++ox, ++n) {
                const int64_t x = ox * g.stride - g.padding + kj;
                f(n, row_inside && x >= 0 && x < g.W ? (plane + y) * g.W + x : -1);
            }
        }
    }
}

}  // namespace

Tensor im2col(const Tensor& x, const ConvGeometry& g) {
    Tensor cols = Tensor::empty({g.C * g.kh * g.kw, g.B * g.Ho * g.Wo}, x.dtype());
    dispatch_float(x.dtype(), "im2col", [&](auto z) {
        using T = decltype(z);
        const T* xp = x.data<T>();
        T* cp = cols.data<T>();
        const int64_t rows = g.C * g.kh * g.kw, cols_n = g.B * g.Ho * g.Wo;
        parallel_for(rows, 0, [&](int64_t r0, int64_t r1) {
            for (int64_t r = r0; r < r1; ++r) {
                T* row = cp + r * cols_n;
                for_each_pixel_of_row(g, r, [&](int64_t n, int64_t pixel) { row[n] = pixel >= 0 ? xp[pixel] : T(0); });
            }
        });
    });
    return cols;
}

Tensor col2im(const Tensor& cols, const ConvGeometry& g) {
    Tensor x = Tensor::zeros({g.B, g.C, g.H, g.W}, cols.dtype());
    dispatch_float(cols.dtype(), "col2im", [&](auto z) {
        using T = decltype(z);
        const T* cp = cols.data<T>();
        T* xp = x.data<T>();
        // Rows of one channel c touch only channel c's pixels, but overlapping kernels
        // (stride < kernel) add from several rows of the same channel: run channels in parallel.
        const int64_t per_channel = g.kh * g.kw, cols_n = g.B * g.Ho * g.Wo;
        parallel_for(g.C, 0, [&](int64_t c0, int64_t c1) {
            for (int64_t r = c0 * per_channel; r < c1 * per_channel; ++r) {
                const T* row = cp + r * cols_n;
                for_each_pixel_of_row(g, r, [&](int64_t n, int64_t pixel) {
                    if (pixel >= 0) xp[pixel] += row[n];
                });
            }
        });
    });
    return x;
}

Tensor conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const ConvGeometry& g) {
    const int64_t K = g.C * g.kh * g.kw, N = g.B * g.Ho * g.Wo;
    Tensor cols = im2col(x, g);
    Tensor y = Tensor::empty({g.B, g.O, g.Ho, g.Wo}, x.dtype());
    dispatch_float(x.dtype(), "conv2d", [&](auto z) {
        using T = decltype(z);
        std::vector<T> ymat(static_cast<size_t>(g.O * N));
        gemm<T>(false, false, g.O, N, K, T(1), weight.data<T>(), K, cols.data<T>(), N, T(0), ymat.data(), N);
        // (O, B, Ho Wo) -> (B, O, Ho Wo), adding the bias on the way.
        const T* bp = bias.defined() ? bias.data<T>() : nullptr;
        T* yp = y.data<T>();
        const int64_t hw = g.Ho * g.Wo;
        parallel_for(g.B * g.O, 0, [&](int64_t s, int64_t e) {
            for (int64_t bo = s; bo < e; ++bo) {
                const int64_t b = bo / g.O, o = bo % g.O;
                for (int64_t i = 0; i < hw; ++i) yp[bo * hw + i] = ymat[o * N + b * hw + i] + (bp ? bp[o] : T(0));
            }
        });
    });
    return y;
}

ConvGrads conv2d_backward(const Tensor& dy, const Tensor& x, const Tensor& weight, bool has_bias,
                          const ConvGeometry& g, bool need_dx) {
    const int64_t K = g.C * g.kh * g.kw, N = g.B * g.Ho * g.Wo, hw = g.Ho * g.Wo;
    ConvGrads grads{Tensor(), Tensor::empty(weight.shape(), weight.dtype()), Tensor()};
    Tensor cols = im2col(x, g);
    dispatch_float(x.dtype(), "conv2d_backward", [&](auto z) {
        using T = decltype(z);
        // dY (B, O, Ho Wo) -> (O, B Ho Wo), the layout of the forward product.
        std::vector<T> dymat(static_cast<size_t>(g.O * N));
        const T* gp = dy.data<T>();
        for (int64_t b = 0; b < g.B; ++b)
            for (int64_t o = 0; o < g.O; ++o)
                std::copy_n(gp + (b * g.O + o) * hw, hw, dymat.data() + o * N + b * hw);
        gemm<T>(false, true, g.O, K, N, T(1), dymat.data(), N, cols.data<T>(), N, T(0), grads.dweight.data<T>(), K);
        if (has_bias) {
            grads.dbias = Tensor::empty({g.O}, x.dtype());
            T* db = grads.dbias.data<T>();
            for (int64_t o = 0; o < g.O; ++o) {
                double s = 0.0;
                for (int64_t n = 0; n < N; ++n) s += dymat[o * N + n];
                db[o] = T(s);
            }
        }
        if (need_dx) {
            Tensor dcols = Tensor::empty({K, N}, x.dtype());
            gemm<T>(true, false, K, N, g.O, T(1), weight.data<T>(), K, dymat.data(), N, T(0), dcols.data<T>(), N);
            grads.dx = col2im(dcols, g);
        }
    });
    return grads;
}

}  // namespace mod::cpu
