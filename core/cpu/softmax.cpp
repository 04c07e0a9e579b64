#include "core/cpu/softmax.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "core/cpu/loops.h"
#include "core/cpu/vector_math.h"

namespace mod::cpu {

namespace {

// Applies f(in_row, out_row, n) to every row of a contiguous (rows, n) matrix, in parallel.
template <typename T, typename F>
Tensor map_rows(const Tensor& x, F f) {
    const int64_t rows = x.numel() / std::max<int64_t>(x.size(-1), 1), n = x.size(-1);
    Tensor out = Tensor::empty(x.shape(), x.dtype());
    const T* xp = x.data<T>();
    T* op_ = out.data<T>();
    parallel_for(rows, kParallelGrain / (n + 1), [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r) f(xp + r * n, op_ + r * n, n);
    });
    return out;
}

}  // namespace

Tensor softmax_forward(const Tensor& x) {
    Tensor out;
    dispatch_float(x.dtype(), "softmax", [&](auto z) {
        using T = decltype(z);
        out = map_rows<T>(x, [](const T* in, T* o, int64_t n) {
            const T m = row_max(in, n);
            for (int64_t i = 0; i < n; ++i) o[i] = exp_of(T(in[i] - m));
            const T inv = T(1.0 / lane_sum<T>(n, [&](int64_t i) { return o[i]; }));
            for (int64_t i = 0; i < n; ++i) o[i] *= inv;
        });
    });
    return out;
}

Tensor log_softmax_forward(const Tensor& x) {
    Tensor out;
    dispatch_float(x.dtype(), "log_softmax", [&](auto z) {
        using T = decltype(z);
        out = map_rows<T>(x, [](const T* in, T* o, int64_t n) {
            const T m = row_max(in, n);
            const T lse = T(m + std::log(lane_sum<T>(n, [&](int64_t i) { return exp_of(T(in[i] - m)); })));
            for (int64_t i = 0; i < n; ++i) o[i] = in[i] - lse;
        });
    });
    return out;
}

namespace {

// dx row by row: f(y_row, dy_row, dx_row, n) over contiguous (rows, n) matrices, in parallel.
template <typename F>
Tensor backward_rows(const Tensor& y, const Tensor& dy, const char* op, F f) {
    const int64_t n = y.size(-1), rows = y.numel() / std::max<int64_t>(n, 1);
    Tensor dx = Tensor::empty(y.shape(), y.dtype());
    dispatch_float(y.dtype(), op, [&](auto z) {
        using T = decltype(z);
        const T* yp = y.data<T>();
        const T* gp = dy.data<T>();
        T* dp = dx.data<T>();
        parallel_for(rows, kParallelGrain / (n + 1), [&](int64_t b, int64_t e) {
            for (int64_t r = b; r < e; ++r) f(yp + r * n, gp + r * n, dp + r * n, n);
        });
    });
    return dx;
}

}  // namespace

Tensor softmax_backward(const Tensor& y, const Tensor& dy) {
    return backward_rows(y, dy, "softmax_backward", [](const auto* yr, const auto* gr, auto* dr, int64_t n) {
        using T = std::remove_const_t<std::remove_pointer_t<decltype(yr)>>;
        const T dot = T(lane_sum<T>(n, [&](int64_t i) { return yr[i] * gr[i]; }));
        for (int64_t i = 0; i < n; ++i) dr[i] = yr[i] * (gr[i] - dot);
    });
}

Tensor log_softmax_backward(const Tensor& y, const Tensor& dy) {
    return backward_rows(y, dy, "log_softmax_backward", [](const auto* yr, const auto* gr, auto* dr, int64_t n) {
        using T = std::remove_const_t<std::remove_pointer_t<decltype(yr)>>;
        const T total = T(lane_sum<T>(n, [&](int64_t i) { return gr[i]; }));
        for (int64_t i = 0; i < n; ++i) dr[i] = gr[i] - exp_of(yr[i]) * total;
    });
}

}  // namespace mod::cpu
