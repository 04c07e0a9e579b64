// Optimizer updates on the GPU: each one kernel over the parameter that reads g, p and the
// state once and writes them once (the formulas are in cuda/optim.h and nn/optim.cpp).
// State has the parameter's dtype: float32 master weights keep float32 moments.
#include "cuda/device_utils.cuh"
#include "cuda/optim.h"

namespace mod::cuda {

namespace {

template <typename T>
__global__ void adamw_kernel(T* p, const T* g, T* m, T* v, int64_t n, T beta1, T beta2, T eps, T decay_factor,
                             T step_size, T bias2_sqrt) {
    MOD_GRID_STRIDE(i, n) {
        const T gi = g[i];
        const T mi = beta1 * m[i] + (T(1) - beta1) * gi;
        const T vi = beta2 * v[i] + (T(1) - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] * decay_factor - step_size * mi / (sqrt(vi) / bias2_sqrt + eps);
    }
}

template <typename T>
__global__ void sgd_kernel(T* p, const T* g, T* buf, int64_t n, T lr, T momentum, bool nesterov, T weight_decay) {
    MOD_GRID_STRIDE(i, n) {
        const T gi = g[i] + weight_decay * p[i];
        T d = gi;
        if (buf) {
            buf[i] = momentum * buf[i] + gi;
            d = nesterov ? gi + momentum * buf[i] : buf[i];
        }
        p[i] -= lr * d;
    }
}

// Per-block partial sums of g^2 in double; the host adds the (at most 1024) partials.
template <typename T>
__global__ void sum_of_squares_kernel(const T* g, int64_t n, double* partial) {
    __shared__ double scratch[32];
    double s = 0;
    MOD_GRID_STRIDE(i, n) {
        const double x = cast<double>(g[i]);
        s += x * x;
    }
    s = block_sum(s, scratch);
    if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

template <typename T>
__global__ void scale_kernel(T* g, int64_t n, acc_t<T> factor) {
    MOD_GRID_STRIDE(i, n) { g[i] = cast<T>(cast<acc_t<T>>(g[i]) * factor); }
}

const char* kOptimOp = "optimizer";

}  // namespace

void adamw_update(const Tensor& p, const Tensor& g, const Tensor& m, const Tensor& v, double beta1, double beta2,
                  double eps, double decay_factor, double step_size, double bias2_sqrt) {
    const int64_t n = p.numel();
    if (n == 0) return;
    const int dev = p.device().index;
    DeviceGuard guard(dev);
    dispatch_float(p.dtype(), "AdamW.step", [&](auto z) {
        using T = decltype(z);
        adamw_kernel<T><<<blocks_for(n), kThreads, 0, stream(dev)>>>(ptr<T>(p), ptr<T>(g), ptr<T>(m), ptr<T>(v), n,
                                                                   T(beta1), T(beta2), T(eps), T(decay_factor),
                                                                   T(step_size), T(bias2_sqrt));
    });
    check_launch("AdamW.step");
}

void sgd_update(const Tensor& p, const Tensor& g, const Tensor& buf, double lr, double momentum, bool nesterov,
                double weight_decay) {
    const int64_t n = p.numel();
    if (n == 0) return;
    const int dev = p.device().index;
    DeviceGuard guard(dev);
    dispatch_float(p.dtype(), "SGD.step", [&](auto z) {
        using T = decltype(z);
        sgd_kernel<T><<<blocks_for(n), kThreads, 0, stream(dev)>>>(ptr<T>(p), ptr<T>(g),
                                                                 buf.defined() ? ptr<T>(buf) : nullptr, n, T(lr),
                                                                 T(momentum), nesterov, T(weight_decay));
    });
    check_launch("SGD.step");
}

double sum_of_squares(const Tensor& g) {
    const int64_t n = g.numel();
    if (n == 0) return 0.0;
    const int dev = g.device().index;
    DeviceGuard guard(dev);
    const unsigned blocks = std::min(blocks_for(n), 1024u);
    Tensor partial = Tensor::empty({blocks}, DType::F64, g.device());
    dispatch_device_float(g.dtype(), kOptimOp, [&](auto z) {
        using T = decltype(z);
        sum_of_squares_kernel<T><<<blocks, kThreads, 0, stream(dev)>>>(ptr<T>(g), n, ptr<double>(partial));
    });
    check_launch(kOptimOp);
    double total = 0;
    for (double s : partial.to_vector<double>()) total += s;
    return total;
}

void scale_(const Tensor& g, double factor) {
    const int64_t n = g.numel();
    if (n == 0) return;
    const int dev = g.device().index;
    DeviceGuard guard(dev);
    dispatch_device_float(g.dtype(), kOptimOp, [&](auto z) {
        using T = decltype(z);
        scale_kernel<T><<<blocks_for(n), kThreads, 0, stream(dev)>>>(ptr<T>(g), n, static_cast<acc_t<T>>(factor));
    });
    check_launch(kOptimOp);
}

}  // namespace mod::cuda
