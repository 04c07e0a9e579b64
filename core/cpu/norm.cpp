// Layer norm and RMS norm, forward and backward side by side.
//
// With xhat = (x - mean) * rstd (layer norm) or x * rstd (RMS norm) and dxhat = dy * w:
//   layer norm: dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
//   RMS norm:   dx = rstd * (dxhat - xhat * mean(dxhat * xhat))
//   both:       dw = sum over rows of dy * xhat;  layer norm: db = sum over rows of dy
// Weight gradients are summed per thread, then across threads in thread order, so a
// run with the same thread count is bit-for-bit repeatable. Row sums run in double over
// kLanes partial sums (lane_sum): a single running double sum kept every row loop scalar.
#include "core/cpu/norm.h"

#include <cmath>
#include <vector>

#include "core/cpu/loops.h"
#include "core/cpu/vector_math.h"

namespace mod::cpu {

namespace {

// Runs f(row, dw_acc, db_acc) over rows in parallel with per-thread (D,) accumulators,
// and returns their sums, in thread order, as float64 vectors.
template <typename F>
std::pair<std::vector<double>, std::vector<double>> rows_with_weight_grads(int64_t rows, int64_t D, F f) {
    std::vector<double> dw(D, 0.0), db(D, 0.0);
#pragma omp parallel
    {
        std::vector<double> local_w(D, 0.0), local_b(D, 0.0);
#pragma omp for schedule(static)
        for (int64_t r = 0; r < rows; ++r) f(r, local_w.data(), local_b.data());
#pragma omp for ordered schedule(static, 1)
        for (int t = 0; t < omp_get_num_threads(); ++t) {
#pragma omp ordered
            for (int64_t i = 0; i < D; ++i) {
                dw[i] += local_w[i];
                db[i] += local_b[i];
            }
        }
    }
    return {dw, db};
}

template <typename T>
Tensor from_doubles(const std::vector<double>& v, DType dtype) {
    Tensor t = Tensor::empty({static_cast<int64_t>(v.size())}, dtype);
    T* p = t.data<T>();
    for (size_t i = 0; i < v.size(); ++i) p[i] = T(v[i]);
    return t;
}

}  // namespace

NormOutput layer_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
    const int64_t D = x.size(-1), rows = x.numel() / D;
    NormOutput out{Tensor::empty(x.shape(), x.dtype()), Tensor::empty({rows}, x.dtype()),
                   Tensor::empty({rows}, x.dtype())};
    dispatch_float(x.dtype(), "layer_norm", [&](auto z) {
        using T = decltype(z);
        const T* xp = x.data<T>();
        const T* wp = weight.defined() ? weight.data<T>() : nullptr;
        const T* bp = bias.defined() ? bias.data<T>() : nullptr;
        T *yp = out.y.data<T>(), *mp = out.mean.data<T>(), *rp = out.rstd.data<T>();
        parallel_for(rows, kParallelGrain / D, [&](int64_t b, int64_t e) {
            for (int64_t r = b; r < e; ++r) {
                const T* xr = xp + r * D;
                const double mean = lane_sum<double>(D, [&](int64_t i) { return double(xr[i]); }) / D;
                const double ss = lane_sum<double>(D, [&](int64_t i) { return (xr[i] - mean) * (xr[i] - mean); });
                const T rstd = T(1.0 / std::sqrt(ss / D + eps));
                mp[r] = T(mean);
                rp[r] = rstd;
                for (int64_t i = 0; i < D; ++i) {
                    T v = (xr[i] - T(mean)) * rstd;
                    if (wp) v *= wp[i];
                    if (bp) v += bp[i];
                    yp[r * D + i] = v;
                }
            }
        });
    });
    return out;
}

NormGrads layer_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& weight, bool has_bias,
                              const Tensor& mean, const Tensor& rstd) {
    const int64_t D = x.size(-1), rows = x.numel() / D;
    NormGrads grads{Tensor::empty(x.shape(), x.dtype()), Tensor(), Tensor()};
    dispatch_float(x.dtype(), "layer_norm_backward", [&](auto z) {
        using T = decltype(z);
        const T *xp = x.data<T>(), *gp = dy.data<T>(), *mp = mean.data<T>(), *rp = rstd.data<T>();
        const T* wp = weight.defined() ? weight.data<T>() : nullptr;
        T* dxp = grads.dx.data<T>();
        auto [dw, db] = rows_with_weight_grads(rows, D, [&](int64_t r, double* dw_acc, double* db_acc) {
            const T *xr = xp + r * D, *gr = gp + r * D;
            const T m = mp[r], rs = rp[r];
            auto dxhat_at = [&](int64_t i) { return double(wp ? gr[i] * wp[i] : gr[i]); };
            const double mean_dxhat = lane_sum<double>(D, dxhat_at) / D;
            const double mean_dxhat_xhat =
                lane_sum<double>(D, [&](int64_t i) { return dxhat_at(i) * double((xr[i] - m) * rs); }) / D;
            for (int64_t i = 0; i < D; ++i) {
                dw_acc[i] += gr[i] * ((xr[i] - m) * rs);
                db_acc[i] += gr[i];
            }
            for (int64_t i = 0; i < D; ++i) {
                const T xhat = (xr[i] - m) * rs;
                const T dxhat = wp ? gr[i] * wp[i] : gr[i];
                dxp[r * D + i] = rs * (dxhat - T(mean_dxhat) - xhat * T(mean_dxhat_xhat));
            }
        });
        if (weight.defined()) grads.dweight = from_doubles<T>(dw, x.dtype());
        if (has_bias) grads.dbias = from_doubles<T>(db, x.dtype());
    });
    return grads;
}

NormOutput rms_norm_forward(const Tensor& x, const Tensor& weight, double eps) {
    const int64_t D = x.size(-1), rows = x.numel() / D;
    NormOutput out{Tensor::empty(x.shape(), x.dtype()), Tensor(), Tensor::empty({rows}, x.dtype())};
    dispatch_float(x.dtype(), "rms_norm", [&](auto z) {
        using T = decltype(z);
        const T* xp = x.data<T>();
        const T* wp = weight.defined() ? weight.data<T>() : nullptr;
        T *yp = out.y.data<T>(), *rp = out.rstd.data<T>();
        parallel_for(rows, kParallelGrain / D, [&](int64_t b, int64_t e) {
            for (int64_t r = b; r < e; ++r) {
                const T* xr = xp + r * D;
                const double ss = lane_sum<double>(D, [&](int64_t i) { return double(xr[i]) * xr[i]; });
                const T rstd = T(1.0 / std::sqrt(ss / D + eps));
                rp[r] = rstd;
                for (int64_t i = 0; i < D; ++i) yp[r * D + i] = wp ? xr[i] * rstd * wp[i] : xr[i] * rstd;
            }
        });
    });
    return out;
}

NormGrads rms_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& weight, const Tensor& rstd) {
    const int64_t D = x.size(-1), rows = x.numel() / D;
    NormGrads grads{Tensor::empty(x.shape(), x.dtype()), Tensor(), Tensor()};
    dispatch_float(x.dtype(), "rms_norm_backward", [&](auto z) {
        using T = decltype(z);
        const T *xp = x.data<T>(), *gp = dy.data<T>(), *rp = rstd.data<T>();
        const T* wp = weight.defined() ? weight.data<T>() : nullptr;
        T* dxp = grads.dx.data<T>();
        auto dw = rows_with_weight_grads(rows, D, [&](int64_t r, double* dw_acc, double*) {
            const T *xr = xp + r * D, *gr = gp + r * D;
            const T rs = rp[r];
            const double mean_dxhat_xhat =
                lane_sum<double>(D, [&](int64_t i) { return double((wp ? gr[i] * wp[i] : gr[i]) * (xr[i] * rs)); }) / D;
            for (int64_t i = 0; i < D; ++i) dw_acc[i] += gr[i] * (xr[i] * rs);
            for (int64_t i = 0; i < D; ++i) {
                const T dxhat = wp ? gr[i] * wp[i] : gr[i];
                dxp[r * D + i] = rs * (dxhat - xr[i] * rs * T(mean_dxhat_xhat));
            }
        }).first;
        if (weight.defined()) grads.dweight = from_doubles<T>(dw, x.dtype());
    });
    return grads;
}

}  // namespace mod::cpu
