#include "core/cpu/loss.h"

#include <cmath>
#include <limits>

#include "core/cpu/loops.h"

namespace mod::cpu {

namespace {

template <typename T>
double row_lse(const T* z, int64_t V, double inv_tau) {
    double m = -std::numeric_limits<double>::infinity();
    for (int64_t v = 0; v < V; ++v) m = std::max(m, z[v] * inv_tau);
    double s = 0.0;
    for (int64_t v = 0; v < V; ++v) s += std::exp(z[v] * inv_tau - m);
    return m + std::log(s);
}

}  // namespace

CrossEntropyForward cross_entropy_forward(const Tensor& logits, const Tensor& targets, int64_t ignore_index,
                                          double smoothing) {
    const int64_t N = logits.size(0), V = logits.size(1);
    CrossEntropyForward out{Tensor::empty({}, logits.dtype()), Tensor::empty({N}, logits.dtype()), 0};
    const int64_t* tp = targets.data<int64_t>();
    for (int64_t i = 0; i < N; ++i) out.valid += tp[i] != ignore_index;
    dispatch_float(logits.dtype(), "cross_entropy", [&](auto zero) {
        using T = decltype(zero);
        const T* zp = logits.data<T>();
        T* lp = out.lse.data<T>();
        std::vector<double> row_loss(N, 0.0);
        parallel_for(N, kParallelGrain / (V + 1), [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i) {
                const T* z = zp + i * V;
                const double lse = row_lse(z, V, 1.0);
                lp[i] = T(lse);
                if (tp[i] == ignore_index) continue;
                double mean_z = 0.0;
                if (smoothing != 0.0) {
                    for (int64_t v = 0; v < V; ++v) mean_z += z[v];
                    mean_z /= V;
                }
                row_loss[i] = (1.0 - smoothing) * (lse - z[tp[i]]) + smoothing * (lse - mean_z);
            }
        });
        double total = 0.0;
        for (double l : row_loss) total += l;  // in row order: the same sum for any thread count
        out.loss.data<T>()[0] = T(out.valid ? total / out.valid : 0.0);
    });
    return out;
}

Tensor cross_entropy_backward(const Tensor& logits, const Tensor& targets, const Tensor& lse, int64_t ignore_index,
                              double smoothing, double scale) {
    const int64_t N = logits.size(0), V = logits.size(1);
    Tensor dz = Tensor::empty(logits.shape(), logits.dtype());
    const int64_t* tp = targets.data<int64_t>();
    dispatch_float(logits.dtype(), "cross_entropy_backward", [&](auto zero) {
        using T = decltype(zero);
        const T *zp = logits.data<T>(), *lp = lse.data<T>();
        T* dp = dz.data<T>();
        const T off = T(smoothing / V), on = T(1.0 - smoothing), s = T(scale);
        parallel_for(N, kParallelGrain / (V + 1), [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i) {
                T* d = dp + i * V;
                if (tp[i] == ignore_index) {
                    std::fill(d, d + V, T(0));
                    continue;
                }
                const T* z = zp + i * V;
                for (int64_t v = 0; v < V; ++v) d[v] = s * (std::exp(z[v] - lp[i]) - off);
                d[tp[i]] -= s * on;
            }
        });
    });
    return dz;
}

SoftCrossEntropyForward soft_cross_entropy_forward(const Tensor& z, const Tensor& t, double tau) {
    const int64_t N = z.size(0), V = z.size(1);
    SoftCrossEntropyForward out{Tensor::empty({}, z.dtype()), Tensor::empty({N}, z.dtype()),
                                Tensor::empty({N}, z.dtype()), Tensor::empty({N}, z.dtype())};
    const double inv_tau = 1.0 / tau;
    dispatch_float(z.dtype(), "soft_cross_entropy", [&](auto zero) {
        using T = decltype(zero);
        const T *zp = z.data<T>(), *tp = t.data<T>();
        T *ls = out.lse_s.data<T>(), *lt = out.lse_t.data<T>(), *rl = out.row_loss.data<T>();
        parallel_for(N, kParallelGrain / (V + 1), [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i) {
                const T *zr = zp + i * V, *tr = tp + i * V;
                const double lse_s = row_lse(zr, V, inv_tau), lse_t = row_lse(tr, V, inv_tau);
                double loss = 0.0;  // sum_v p_T (lse_s - z_v / tau) = - sum_v p_T log p_S
                for (int64_t v = 0; v < V; ++v) loss += std::exp(tr[v] * inv_tau - lse_t) * (lse_s - zr[v] * inv_tau);
                ls[i] = T(lse_s);
                lt[i] = T(lse_t);
                rl[i] = T(loss * tau * tau);
            }
        });
        double total = 0.0;
        for (int64_t i = 0; i < N; ++i) total += rl[i];
        out.loss.data<T>()[0] = T(N ? total / N : 0.0);
    });
    return out;
}

std::pair<Tensor, Tensor> soft_cross_entropy_backward(const Tensor& z, const Tensor& t,
                                                      const SoftCrossEntropyForward& fwd, double tau, double scale,
                                                      bool need_dz, bool need_dt) {
    const int64_t N = z.size(0), V = z.size(1);
    Tensor dz = need_dz ? Tensor::empty(z.shape(), z.dtype()) : Tensor();
    Tensor dt = need_dt ? Tensor::empty(t.shape(), t.dtype()) : Tensor();
    const double inv_tau = 1.0 / tau;
    dispatch_float(z.dtype(), "soft_cross_entropy_backward", [&](auto zero) {
        using T = decltype(zero);
        const T *zp = z.data<T>(), *tp = t.data<T>();
        const T *ls = fwd.lse_s.data<T>(), *lt = fwd.lse_t.data<T>(), *rl = fwd.row_loss.data<T>();
        T* dzp = need_dz ? dz.data<T>() : nullptr;
        T* dtp = need_dt ? dt.data<T>() : nullptr;
        parallel_for(N, kParallelGrain / (V + 1), [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i) {
                const T *zr = zp + i * V, *tr = tp + i * V;
                const double mean_c = rl[i] / (tau * tau);  // sum_v p_T c_v
                for (int64_t v = 0; v < V; ++v) {
                    const double log_ps = zr[v] * inv_tau - ls[i];
                    const double pt = std::exp(tr[v] * inv_tau - lt[i]);
                    if (dzp) dzp[i * V + v] = T(scale * tau * (std::exp(log_ps) - pt));
                    if (dtp) dtp[i * V + v] = T(scale * tau * pt * (-log_ps - mean_c));
                }
            }
        });
    });
    return {dz, dt};
}

}  // namespace mod::cpu
