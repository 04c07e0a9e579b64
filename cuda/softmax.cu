// CUDA row softmax kernels on contiguous (rows, n) matrices (any leading shape; the last
// dim is the row), the twin of core/cpu/softmax.cpp. One block of kThreads threads per
// row, the grid striding over rows; sums accumulate in acc_t like the CPU's T.
//
// The forward reads the row twice, not three times: the first pass keeps a running
// (max m, sum s of exp(x - m)) per thread and merges them over the block (the "online
// softmax"); the second writes the outputs. Special values come out as on the CPU: NaNs
// never become the max but make the sum NaN, a +inf makes the sum NaN, -inf elements add
// 0, and a row of only -inf gives NaN.
#include <algorithm>

#include "cuda/device_utils.cuh"
#include "cuda/softmax.h"

namespace mod::cuda {

namespace {

// ---- the row max and sum of exp(x - max), in one pass ----

template <typename A>
struct MaxSum {
    A m;  // largest non-NaN value seen, -inf before any
    A s;  // sum of exp(x - m) over the values seen
};

// Adds x: when it raises the max, s is rescaled, s' = s e^(m - x) + e^(x - x) (1, or NaN
// for x = +inf as the CPU's exp(inf - inf)). A -inf adds exp(-inf - m) = 0 once the row
// max is finite, so it is skipped even while m is still -inf (where it would give NaN).
template <typename A>
__device__ void add_value(MaxSum<A>& acc, A x) {
    if (x > acc.m) {
        acc.s = acc.s * exp(acc.m - x) + exp(x - x);
        acc.m = x;
    } else if (x != A(-INFINITY)) {
        acc.s += exp(x - acc.m);
    }
}

// (m, s) of two parts: m = max(m1, m2), s = s1 e^(m1 - m) + s2 e^(m2 - m). A part with
// s = 0 saw nothing finite and adds 0, even when m1 = m = -inf.
template <typename A>
__device__ MaxSum<A> merge(MaxSum<A> p, MaxSum<A> q) {
    const A m = q.m > p.m ? q.m : p.m;
    const A sp = p.s == A(0) ? A(0) : p.s * exp(p.m - m);
    const A sq = q.s == A(0) ? A(0) : q.s * exp(q.m - m);
    return {m, sp + sq};
}

template <typename A>
__device__ MaxSum<A> warp_max_sum(MaxSum<A> v) {
    for (int o = 16; o > 0; o >>= 1)
        v = merge(v, MaxSum<A>{__shfl_xor_sync(0xffffffffu, v.m, o), __shfl_xor_sync(0xffffffffu, v.s, o)});
    return v;
}

// Merged over the block; every thread gets the result. `scratch` holds 32 values.
template <typename A>
__device__ MaxSum<A> block_max_sum(MaxSum<A> v, MaxSum<A>* scratch) {
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = (blockDim.x + 31) / 32;
    v = warp_max_sum(v);
    __syncthreads();  // scratch may still be read for the previous row
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < warps ? scratch[lane] : MaxSum<A>{A(-INFINITY), A(0)};
    return warp_max_sum(v);
}

template <typename T>
__device__ MaxSum<acc_t<T>> row_max_sum(const T* row, int64_t n, MaxSum<acc_t<T>>* scratch) {
    using A = acc_t<T>;
    MaxSum<A> acc{A(-INFINITY), A(0)};
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) add_value(acc, cast<A>(row[i]));
    return block_max_sum(acc, scratch);
}

// ---- forward ----

// x (rows, n) -> y (rows, n): softmax y = exp(x - m) / s, or log_softmax y = x - (m + log s).
template <typename T>
__global__ void softmax_forward_kernel(const T* x, T* y, int64_t rows, int64_t n, bool log_space) {
    using A = acc_t<T>;
    __shared__ MaxSum<A> scratch[32];
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const T* in = x + r * n;
        T* out = y + r * n;
        const MaxSum<A> ms = row_max_sum(in, n, scratch);
        if (log_space) {
            const A lse = ms.m + log(ms.s);
            for (int64_t i = threadIdx.x; i < n; i += blockDim.x) out[i] = cast<T>(cast<A>(in[i]) - lse);
        } else {
            const A inv = A(1) / ms.s;
            for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
                out[i] = cast<T>(exp(cast<A>(in[i]) - ms.m) * inv);
        }
    }
}

// ---- backward ----

// y, dy (rows, n) -> dx (rows, n), from y = softmax(x):  dx = y * (dy - sum(dy * y)),
//                                 or y = log_softmax(x): dx = dy - exp(y) * sum(dy).
template <typename T>
__global__ void softmax_backward_kernel(const T* y, const T* dy, T* dx, int64_t rows, int64_t n,
                                        bool log_space) {
    using A = acc_t<T>;
    __shared__ A scratch[32];
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const T* yr = y + r * n;
        const T* gr = dy + r * n;
        T* dr = dx + r * n;
        A c = 0;
        for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
            c += log_space ? cast<A>(gr[i]) : cast<A>(yr[i]) * cast<A>(gr[i]);
        c = block_sum(c, scratch);
        for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
            const A v = cast<A>(yr[i]), g = cast<A>(gr[i]);
            dr[i] = cast<T>(log_space ? g - exp(v) * c : v * (g - c));
        }
    }
}

// ---- launchers ----

struct RowShape {
    int64_t rows, n;
};

RowShape row_shape(const Tensor& x) {
    const int64_t n = x.size(-1);
    return {x.numel() / std::max<int64_t>(n, 1), n};
}

Tensor forward(const Tensor& x, bool log_space, const char* op) {
    Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
    const RowShape s = row_shape(x);
    dispatch_device_float(x.dtype(), op, [&](auto z) {
        using T = decltype(z);
        if (s.rows == 0 || s.n == 0) return;
        DeviceGuard guard(x.device().index);
        softmax_forward_kernel<<<row_blocks(s.rows), kThreads, 0, stream(x.device().index)>>>(
            ptr<const T>(x), ptr<T>(y), s.rows, s.n, log_space);
        check_launch(op);
    });
    return y;
}

Tensor backward(const Tensor& y, const Tensor& dy, bool log_space, const char* op) {
    Tensor dx = Tensor::empty(y.shape(), y.dtype(), y.device());
    const RowShape s = row_shape(y);
    dispatch_device_float(y.dtype(), op, [&](auto z) {
        using T = decltype(z);
        if (s.rows == 0 || s.n == 0) return;
        DeviceGuard guard(y.device().index);
        softmax_backward_kernel<<<row_blocks(s.rows), kThreads, 0, stream(y.device().index)>>>(
            ptr<const T>(y), ptr<const T>(dy), ptr<T>(dx), s.rows, s.n, log_space);
        check_launch(op);
    });
    return dx;
}

}  // namespace

Tensor softmax_forward(const Tensor& x) { return forward(x, false, "softmax"); }

Tensor log_softmax_forward(const Tensor& x) { return forward(x, true, "log_softmax"); }

Tensor softmax_backward(const Tensor& y, const Tensor& dy) {
    return backward(y, dy, false, "softmax_backward");
}

Tensor log_softmax_backward(const Tensor& y, const Tensor& dy) {
    return backward(y, dy, true, "log_softmax_backward");
}

}  // namespace mod::cuda
