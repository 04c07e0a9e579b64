#include "core/cpu/softmax.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "core/cpu/loops.h"

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

template <typename T>
T row_max_of(const T* x, int64_t n) {
    T m = -std::numeric_limits<T>::infinity();
    for (int64_t i = 0; i < n; ++i) m = std::max(m, x[i]);
    return m;
}

}  // namespace

Tensor softmax_forward(const Tensor& x) {
    Tensor out;
    dispatch_float(x.dtype(), "softmax", [&](auto z) {
        using T = decltype(z);
        out = map_rows<T>(x, [](const T* in, T* o, int64_t n) {
            const T m = row_max_of(in, n);
            T s = 0;
            for (int64_t i = 0; i < n; ++i) s += (o[i] = std::exp(in[i] - m));
            const T inv = T(1) / s;
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
            const T m = row_max_of(in, n);
            T s = 0;
            for (int64_t i = 0; i < n; ++i) s += std::exp(in[i] - m);
            const T lse = m + std::log(s);
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
        std::remove_const_t<std::remove_pointer_t<decltype(yr)>> dot = 0;
        for (int64_t i = 0; i < n; ++i) dot += yr[i] * gr[i];
        for (int64_t i = 0; i < n; ++i) dr[i] = yr[i] * (gr[i] - dot);
    });
}

Tensor log_softmax_backward(const Tensor& y, const Tensor& dy) {
    return backward_rows(y, dy, "log_softmax_backward", [](const auto* yr, const auto* gr, auto* dr, int64_t n) {
        std::remove_const_t<std::remove_pointer_t<decltype(yr)>> total = 0;
        for (int64_t i = 0; i < n; ++i) total += gr[i];
        for (int64_t i = 0; i < n; ++i) dr[i] = gr[i] - std::exp(yr[i]) * total;
    });
}

}  // namespace mod::cpu
