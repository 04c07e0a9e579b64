// conv2d on the GPU: im2col and col2im kernels around cuBLAS products, the layout of
// core/cpu/conv.cpp. Columns are (C kh kw, B Ho Wo), so the whole batch is one product
// Y (O, B Ho Wo) = W (O, C kh kw) cols; dW = dY cols^T, dcols = W^T dY.
// Calls are qualified with cuda:: because the geometry type lives in mod::cpu, which
// argument-dependent lookup would otherwise search as well.
#include "cuda/conv.h"
#include "cuda/copy.h"
#include "cuda/device_utils.cuh"
#include "cuda/elementwise.h"
#include "cuda/matmul.h"
#include "cuda/reduce.h"

namespace mod::cuda {

namespace {

// One thread per column entry (r, n): the input pixel under row r = (c, ki, kj) of the
// patch of output position n = (b, oy, ox), or 0 where the patch reads padding.
template <typename T>
__global__ void im2col_kernel(const T* x, T* cols, ConvGeometry g) {
    const int64_t cols_n = g.B * g.Ho * g.Wo, total = g.C * g.kh * g.kw * cols_n;
    MOD_GRID_STRIDE(i, total) {
        const int64_t r = i / cols_n, n = i % cols_n;
        const int64_t c = r / (g.kh * g.kw), ki = (r / g.kw) % g.kh, kj = r % g.kw;
        const int64_t b = n / (g.Ho * g.Wo), oy = (n / g.Wo) % g.Ho, ox = n % g.Wo;
        const int64_t y = oy * g.stride - g.padding + ki, xx = ox * g.stride - g.padding + kj;
        const bool inside = y >= 0 && y < g.H && xx >= 0 && xx < g.W;
        cols[i] = inside ? x[((b * g.C + c) * g.H + y) * g.W + xx] : T(0);
    }
}

// One thread per input pixel, summing every column entry that read it: no atomics, so
// the result does not depend on thread order.
template <typename T>
__global__ void col2im_kernel(const T* cols, T* x, ConvGeometry g) {
    const int64_t cols_n = g.B * g.Ho * g.Wo, total = g.B * g.C * g.H * g.W;
    MOD_GRID_STRIDE(i, total) {
        const int64_t xx = i % g.W, y = (i / g.W) % g.H, c = (i / (g.W * g.H)) % g.C, b = i / (g.W * g.H * g.C);
        acc_t<T> s = 0;
        for (int64_t ki = 0; ki < g.kh; ++ki) {
            const int64_t ty = y + g.padding - ki;  // = oy * stride
            if (ty < 0 || ty % g.stride != 0 || ty / g.stride >= g.Ho) continue;
            for (int64_t kj = 0; kj < g.kw; ++kj) {
                const int64_t tx = xx + g.padding - kj;
                if (tx < 0 || tx % g.stride != 0 || tx / g.stride >= g.Wo) continue;
                const int64_t r = (c * g.kh + ki) * g.kw + kj, n = (b * g.Ho + ty / g.stride) * g.Wo + tx / g.stride;
                s += cast<acc_t<T>>(cols[r * cols_n + n]);
            }
        }
        x[i] = cast<T>(s);
    }
}

Tensor im2col(const Tensor& x, const ConvGeometry& g) {
    Tensor cols = Tensor::empty({g.C * g.kh * g.kw, g.B * g.Ho * g.Wo}, x.dtype(), x.device());
    dispatch_device_float(x.dtype(), "conv2d", [&](auto z) {
        using T = decltype(z);
        im2col_kernel<T><<<blocks_for(cols.numel()), kThreads, 0, stream(x.device().index)>>>(ptr<T>(x), ptr<T>(cols), g);
    });
    check_launch("conv2d");
    return cols;
}

Tensor col2im(const Tensor& cols, const ConvGeometry& g) {
    Tensor x = Tensor::empty({g.B, g.C, g.H, g.W}, cols.dtype(), cols.device());
    dispatch_device_float(cols.dtype(), "conv2d", [&](auto z) {
        using T = decltype(z);
        col2im_kernel<T><<<blocks_for(x.numel()), kThreads, 0, stream(cols.device().index)>>>(ptr<T>(cols), ptr<T>(x), g);
    });
    check_launch("conv2d");
    return x;
}

}  // namespace

Tensor conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const ConvGeometry& g) {
    DeviceGuard guard(x.device().index);
    const int64_t K = g.C * g.kh * g.kw;
    Tensor ymat = matmul(weight.reshape({g.O, K}), cuda::im2col(x, g));  // (O, B Ho Wo)
    // (O, B, Ho Wo) -> (B, O, Ho Wo), adding the bias on the way.
    Tensor y = ymat.reshape({g.O, g.B, g.Ho * g.Wo}).permute({1, 0, 2});
    if (bias.defined()) return cuda::binary(BinaryOp::Add, y, bias.reshape({g.O, 1})).reshape({g.B, g.O, g.Ho, g.Wo});
    Tensor out = Tensor::empty({g.B, g.O, g.Ho, g.Wo}, x.dtype(), x.device());
    copy_into(y, out.reshape({g.B, g.O, g.Ho * g.Wo}));
    return out;
}

ConvGrads conv2d_backward(const Tensor& dy, const Tensor& x, const Tensor& weight, bool has_bias,
                          const ConvGeometry& g, bool need_dx) {
    DeviceGuard guard(x.device().index);
    const int64_t K = g.C * g.kh * g.kw, N = g.B * g.Ho * g.Wo;
    // dY (B, O, Ho Wo) -> (O, B Ho Wo), the layout of the forward product.
    Tensor dymat = Tensor::empty({g.O, g.B, g.Ho * g.Wo}, dy.dtype(), dy.device());
    copy_into(dy.reshape({g.B, g.O, g.Ho * g.Wo}).permute({1, 0, 2}), dymat);
    dymat = dymat.reshape({g.O, N});
    ConvGrads grads;
    grads.dweight = matmul(dymat, cuda::im2col(x, g).transpose(0, 1)).reshape(weight.shape());
    if (has_bias) grads.dbias = row_sum(dymat);
    if (need_dx) grads.dx = cuda::col2im(matmul(weight.reshape({g.O, K}).transpose(0, 1), dymat), g);
    return grads;
}

}  // namespace mod::cuda
