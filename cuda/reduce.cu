// CUDA row reductions on a contiguous (rows, R) matrix, the twin of core/cpu/reduce.cpp.
//
// One block of kThreads threads per row (the grid strides over rows): each thread folds a
// strided slice of the row (coalesced reads), then the block combines the partials. Like
// the CPU, sums accumulate in double: a float32 running sum over thousands of terms loses
// digits a gradient check sees. An empty row sums to 0 and has logsumexp -inf; every
// output is written, so rows with R == 0 need no special case.
#include <algorithm>

#include "cuda/device_utils.cuh"
#include "cuda/reduce.h"

namespace mod::cuda {

namespace {

// ---- sum ----

// x (rows, R) -> out (rows,): out[r] = sum_i x[r, i].
template <typename T>
__global__ void row_sum_kernel(const T* x, T* out, int64_t rows, int64_t R) {
    __shared__ double scratch[32];
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const T* row = x + r * R;
        double s = 0.0;
        for (int64_t i = threadIdx.x; i < R; i += blockDim.x) s += cast<double>(row[i]);
        s = block_sum(s, scratch);
        if (threadIdx.x == 0) out[r] = cast<T>(s);
    }
}

// ---- max with the index of its first occurrence ----

// A candidate maximum. The CPU keeps the first NaN when the row has one, else the first
// largest value; `better` is that order, ties going to the smaller index.
template <typename A>
struct Arg {
    A value;
    int64_t index;
};

template <typename A>
__device__ Arg<A> better(Arg<A> p, Arg<A> q) {
    const bool p_nan = isnan(p.value), q_nan = isnan(q.value);
    if (p_nan != q_nan) return p_nan ? p : q;
    if (!p_nan && p.value != q.value) return p.value > q.value ? p : q;
    return p.index <= q.index ? p : q;
}

template <typename A>
__device__ Arg<A> warp_arg_max(Arg<A> v) {
    for (int o = 16; o > 0; o >>= 1) {
        const Arg<A> w{__shfl_xor_sync(0xffffffffu, v.value, o), __shfl_xor_sync(0xffffffffu, v.index, o)};
        v = better(v, w);
    }
    return v;
}

// The start value (-inf, 0) loses to every element but an equal -inf, and an all--inf row
// has its first maximum at index 0 anyway, so it never changes the answer of a non-empty row.
template <typename A>
__device__ Arg<A> block_arg_max(Arg<A> v, Arg<A>* scratch) {
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = (blockDim.x + 31) / 32;
    v = warp_arg_max(v);
    __syncthreads();  // scratch may still be read for the previous row
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < warps ? scratch[lane] : Arg<A>{A(-INFINITY), 0};
    return warp_arg_max(v);
}

// x (rows, R) -> values (rows,), indices (rows,) of the first maximum (the first NaN if any).
template <typename T>
__global__ void row_max_kernel(const T* x, T* values, int64_t* indices, int64_t rows, int64_t R) {
    using A = acc_t<T>;
    __shared__ Arg<A> scratch[32];
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const T* row = x + r * R;
        Arg<A> best{A(-INFINITY), 0};
        for (int64_t i = threadIdx.x; i < R; i += blockDim.x) best = better(best, Arg<A>{cast<A>(row[i]), i});
        best = block_arg_max(best, scratch);
        if (threadIdx.x == 0) {
            values[r] = cast<T>(best.value);
            indices[r] = best.index;
        }
    }
}

// ---- logsumexp ----

// x (rows, R) -> out (rows,): lse = m + log(sum_i exp(x_i - m)), m = max_i x_i. As on the
// CPU, NaNs do not enter m (they reach the sum and make it NaN), and a non-finite m (an
// all--inf or empty row, or a +inf) is the answer itself, so an all--inf row gives -inf.
template <typename T>
__global__ void row_logsumexp_kernel(const T* x, T* out, int64_t rows, int64_t R) {
    using A = acc_t<T>;
    __shared__ A max_scratch[32];
    __shared__ double sum_scratch[32];
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const T* row = x + r * R;
        A m = A(-INFINITY);
        for (int64_t i = threadIdx.x; i < R; i += blockDim.x) {
            const A v = cast<A>(row[i]);
            m = v > m ? v : m;
        }
        m = block_max(m, max_scratch);
        if (!isfinite(m)) {  // m is the same in every thread: the whole block skips the sum
            if (threadIdx.x == 0) out[r] = cast<T>(m);
            continue;
        }
        double s = 0.0;
        for (int64_t i = threadIdx.x; i < R; i += blockDim.x) s += exp(cast<A>(row[i]) - m);
        s = block_sum(s, sum_scratch);
        if (threadIdx.x == 0) out[r] = cast<T>(m + A(log(s)));
    }
}

}  // namespace

Tensor row_sum(const Tensor& x) {
    const int64_t rows = x.shape()[0], R = x.shape()[1];
    Tensor out = Tensor::empty({rows}, x.dtype(), x.device());
    dispatch_device_float(x.dtype(), "sum", [&](auto z) {
        using T = decltype(z);
        if (rows == 0) return;
        DeviceGuard guard(x.device().index);
        row_sum_kernel<<<row_blocks(rows), kThreads, 0, stream(x.device().index)>>>(ptr<const T>(x),
                                                                                    ptr<T>(out), rows, R);
        check_launch("sum");
    });
    return out;
}

std::pair<Tensor, Tensor> row_max(const Tensor& x) {
    const int64_t rows = x.shape()[0], R = x.shape()[1];
    Tensor values = Tensor::empty({rows}, x.dtype(), x.device());
    Tensor indices = Tensor::empty({rows}, DType::I64, x.device());
    dispatch_device_float(x.dtype(), "max", [&](auto z) {
        using T = decltype(z);
        if (rows == 0) return;
        DeviceGuard guard(x.device().index);
        row_max_kernel<<<row_blocks(rows), kThreads, 0, stream(x.device().index)>>>(
            ptr<const T>(x), ptr<T>(values), ptr<int64_t>(indices), rows, R);
        check_launch("max");
    });
    return {values, indices};
}

Tensor row_logsumexp(const Tensor& x) {
    const int64_t rows = x.shape()[0], R = x.shape()[1];
    Tensor out = Tensor::empty({rows}, x.dtype(), x.device());
    dispatch_device_float(x.dtype(), "logsumexp", [&](auto z) {
        using T = decltype(z);
        if (rows == 0) return;
        DeviceGuard guard(x.device().index);
        row_logsumexp_kernel<<<row_blocks(rows), kThreads, 0, stream(x.device().index)>>>(
            ptr<const T>(x), ptr<T>(out), rows, R);
        check_launch("logsumexp");
    });
    return out;
}

}  // namespace mod::cuda
