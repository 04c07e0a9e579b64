// CUDA layer norm and RMS norm over the last dim of a contiguous (rows, D) input: the twin
// of core/cpu/norm.cpp, with the same outputs and the same backward math. With
// xhat = (x - mean) * rstd (layer norm) or x * rstd (RMS norm) and dxhat = dy * w:
//   layer norm: dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
//   RMS norm:   dx = rstd * (dxhat - xhat * mean(dxhat * xhat))
//   both:       dw = sum over rows of dy * xhat;  layer norm: db = sum over rows of dy
// Forward and backward dx run one block per row with block reductions, in acc_t. The weight
// gradients are a column sum over rows, done without float atomics so that they repeat bit
// for bit: a fixed grid of at most kPartialBlocks blocks each adds its rows into its own
// row of a (blocks, D) buffer, then one thread per column adds those rows in block order.
// Every output is overwritten (nothing accumulates into existing gradients).
#include <algorithm>

#include "cuda/device_utils.cuh"
#include "cuda/norm.h"

namespace mod::cuda {

namespace {

// Blocks of the backward row loop, so the rows of the weight-gradient buffer: enough to fill
// the GPU, few enough that the final column sums are short. A constant (not the SM count)
// keeps the summation order, and so the result, the same on every GPU.
constexpr int64_t kPartialBlocks = 512;
// ptr<T> of an optional tensor: null when undefined.
template <typename T>
T* ptr_or_null(const Tensor& t) {
    return t.defined() ? ptr<T>(t) : nullptr;
}

// x, y (rows, D); mean (rows,) when kLayer; rstd (rows,); w, b (D,) or null.
// Layer norm: mean = sum(x) / D, var = sum((x - mean)^2) / D (two passes, as the CPU does).
// RMS norm: mean is 0 and var = sum(x^2) / D. rstd = 1 / sqrt(var + eps), y = xhat * w + b.
template <typename T, bool kLayer>
__global__ void norm_forward_kernel(const T* x, const T* w, const T* b, T* y, T* mean, T* rstd, int64_t rows,
                                    int64_t D, acc_t<T> eps) {
    using A = acc_t<T>;
    __shared__ A scratch[32];
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const T* xr = x + r * D;
        A m = 0;
        if constexpr (kLayer) {
            A s = 0;
            for (int64_t i = threadIdx.x; i < D; i += blockDim.x) s += cast<A>(xr[i]);
            m = block_sum(s, scratch) / A(D);
        }
        A ss = 0;
        for (int64_t i = threadIdx.x; i < D; i += blockDim.x) {
            const A d = cast<A>(xr[i]) - m;
            ss += d * d;
        }
        const A rs = A(1) / sqrt(block_sum(ss, scratch) / A(D) + eps);
        if (threadIdx.x == 0) {
            if constexpr (kLayer) mean[r] = cast<T>(m);
            rstd[r] = cast<T>(rs);
        }
        T* yr = y + r * D;
        for (int64_t i = threadIdx.x; i < D; i += blockDim.x) {
            A v = (cast<A>(xr[i]) - m) * rs;
            if (w) v *= cast<A>(w[i]);
            if (b) v += cast<A>(b[i]);
            yr[i] = cast<T>(v);
        }
    }
}

// dy, x, dx (rows, D); mean (rows,) when kLayer; rstd (rows,); w (D,) or null.
// dw_part, db_part (gridDim.x, D) or null: block k writes the sums over its rows
// (k, k + gridDim.x, ...) of dy * xhat and dy into row k; each column of that row is only
// ever touched by one thread, so the running sums need no atomics.
template <typename T, bool kLayer>
__global__ void norm_backward_kernel(const T* dy, const T* x, const T* w, const T* mean, const T* rstd, T* dx,
                                     acc_t<T>* dw_part, acc_t<T>* db_part, int64_t rows, int64_t D) {
    using A = acc_t<T>;
    __shared__ A scratch[32];
    A* dwp = dw_part ? dw_part + blockIdx.x * D : nullptr;
    A* dbp = db_part ? db_part + blockIdx.x * D : nullptr;
    for (int64_t i = threadIdx.x; i < D; i += blockDim.x) {
        if (dwp) dwp[i] = 0;
        if (dbp) dbp[i] = 0;
    }
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const T *xr = x + r * D, *gr = dy + r * D;
        const A m = kLayer ? cast<A>(mean[r]) : A(0), rs = cast<A>(rstd[r]);
        A sum_dxhat = 0, sum_dxhat_xhat = 0;
        for (int64_t i = threadIdx.x; i < D; i += blockDim.x) {
            const A g = cast<A>(gr[i]);
            const A xhat = (cast<A>(xr[i]) - m) * rs;
            const A dxhat = w ? g * cast<A>(w[i]) : g;
            sum_dxhat += dxhat;
            sum_dxhat_xhat += dxhat * xhat;
            if (dwp) dwp[i] += g * xhat;
            if (dbp) dbp[i] += g;
        }
        const A mean_dxhat = kLayer ? block_sum(sum_dxhat, scratch) / A(D) : A(0);
        const A mean_dxhat_xhat = block_sum(sum_dxhat_xhat, scratch) / A(D);
        T* dxr = dx + r * D;
        for (int64_t i = threadIdx.x; i < D; i += blockDim.x) {
            const A g = cast<A>(gr[i]);
            const A xhat = (cast<A>(xr[i]) - m) * rs;
            const A dxhat = w ? g * cast<A>(w[i]) : g;
            dxr[i] = cast<T>(rs * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat));
        }
    }
}

// part (blocks, D) -> out (D,): out[i] = sum over k of part[k, i], in k order.
template <typename T>
__global__ void sum_partials_kernel(const acc_t<T>* part, int64_t blocks, int64_t D, T* out) {
    MOD_GRID_STRIDE(i, D) {
        acc_t<T> s = 0;
        for (int64_t k = 0; k < blocks; ++k) s += part[k * D + i];
        out[i] = cast<T>(s);
    }
}

template <bool kLayer>
NormOutput norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps,
                        const char* op) {
    const int64_t D = x.size(-1), rows = x.numel() / D;
    const Device dev = x.device();
    DeviceGuard guard(dev.index);
    NormOutput out{Tensor::empty(x.shape(), x.dtype(), dev),
                   kLayer ? Tensor::empty({rows}, x.dtype(), dev) : Tensor(),
                   Tensor::empty({rows}, x.dtype(), dev)};
    if (rows == 0) return out;
    dispatch_device_float(x.dtype(), op, [&](auto z) {
        using T = decltype(z);
        const unsigned grid = row_blocks(rows);
        norm_forward_kernel<T, kLayer><<<grid, kThreads, 0, stream(dev.index)>>>(
            ptr<T>(x), ptr_or_null<T>(weight), ptr_or_null<T>(bias), ptr<T>(out.y), ptr_or_null<T>(out.mean),
            ptr<T>(out.rstd), rows, D, static_cast<acc_t<T>>(eps));
    });
    check_launch(op);
    return out;
}

template <bool kLayer>
NormGrads norm_backward(const Tensor& dy, const Tensor& x, const Tensor& weight, bool has_bias,
                        const Tensor& mean, const Tensor& rstd, const char* op) {
    const int64_t D = x.size(-1), rows = x.numel() / D;
    const Device dev = x.device();
    DeviceGuard guard(dev.index);
    cudaStream_t s = stream(dev.index);
    NormGrads grads{Tensor::empty(x.shape(), x.dtype(), dev), Tensor(), Tensor()};
    dispatch_device_float(x.dtype(), op, [&](auto z) {
        using T = decltype(z);
        using A = acc_t<T>;
        const int64_t blocks = std::min(rows, kPartialBlocks);
        Tensor dw_part, db_part;
        if (weight.defined()) dw_part = Tensor::empty({blocks, D}, dtype_of<A>::value, dev);
        if (has_bias) db_part = Tensor::empty({blocks, D}, dtype_of<A>::value, dev);
        if (rows > 0)
            norm_backward_kernel<T, kLayer><<<static_cast<unsigned>(blocks), kThreads, 0, s>>>(
                ptr<T>(dy), ptr<T>(x), ptr_or_null<T>(weight), ptr_or_null<T>(mean), ptr<T>(rstd),
                ptr<T>(grads.dx), ptr_or_null<A>(dw_part), ptr_or_null<A>(db_part), rows, D);
        // With no rows the column sums are empty and write zeros.
        if (weight.defined()) {
            grads.dweight = Tensor::empty({D}, x.dtype(), dev);
            sum_partials_kernel<T>
                <<<blocks_for(D), kThreads, 0, s>>>(ptr<A>(dw_part), blocks, D, ptr<T>(grads.dweight));
        }
        if (has_bias) {
            grads.dbias = Tensor::empty({D}, x.dtype(), dev);
            sum_partials_kernel<T>
                <<<blocks_for(D), kThreads, 0, s>>>(ptr<A>(db_part), blocks, D, ptr<T>(grads.dbias));
        }
    });
    check_launch(op);
    return grads;
}

}  // namespace

NormOutput layer_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
    return norm_forward<true>(x, weight, bias, eps, "layer_norm");
}

NormGrads layer_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& weight, bool has_bias,
                              const Tensor& mean, const Tensor& rstd) {
    return norm_backward<true>(dy, x, weight, has_bias, mean, rstd, "layer_norm_backward");
}

NormOutput rms_norm_forward(const Tensor& x, const Tensor& weight, double eps) {
    return norm_forward<false>(x, weight, Tensor(), eps, "rms_norm");
}

NormGrads rms_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& weight, const Tensor& rstd) {
    return norm_backward<false>(dy, x, weight, false, Tensor(), rstd, "rms_norm_backward");
}

}  // namespace mod::cuda
