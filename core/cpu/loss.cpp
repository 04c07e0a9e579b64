#include "core/cpu/loss.h"

#include <cmath>
#include <limits>

#include "core/cpu/loops.h"
#include "core/cpu/vector_math.h"

namespace mod::cpu {

namespace {

// log sum_v exp(z_v / tau), with 1/tau > 0; vectorised (core/cpu/vector_math.h).
template <typename T>
double row_lse(const T* z, int64_t V, double inv_tau) {
    const T it = T(inv_tau), m = row_max(z, V) * it;
    return m + std::log(lane_sum<T>(V, [&](int64_t v) { return exp_of(T(z[v] * it - m)); }));
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
                const double mean_z = smoothing != 0.0 ? lane_sum<T>(V, [&](int64_t v) { return z[v]; }) / V : 0.0;
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
                const T row_lse_i = lp[i];
                for (int64_t v = 0; v < V; ++v) d[v] = s * (exp_of(T(z[v] - row_lse_i)) - off);
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
                const T it = T(inv_tau), s_lse = T(lse_s), t_lse = T(lse_t);
                // sum_v p_T (lse_s - z_v / tau) = - sum_v p_T log p_S
                const double loss =
                    lane_sum<T>(V, [&](int64_t v) { return exp_of(T(tr[v] * it - t_lse)) * (s_lse - zr[v] * it); });
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
                const T mean_c = T(rl[i] / (tau * tau));  // sum_v p_T c_v
                const T it = T(inv_tau), s_lse = ls[i], t_lse = lt[i], k = T(scale * tau);
                T* dzr = dzp ? dzp + i * V : nullptr;
                T* dtr = dtp ? dtp + i * V : nullptr;
                if (dzr)
                    for (int64_t v = 0; v < V; ++v)
                        dzr[v] = k * (exp_of(T(zr[v] * it - s_lse)) - exp_of(T(tr[v] * it - t_lse)));
                if (dtr)
                    for (int64_t v = 0; v < V; ++v) {
                        const T log_ps = zr[v] * it - s_lse;
                        dtr[v] = k * exp_of(T(tr[v] * it - t_lse)) * (-log_ps - mean_c);
                    }
            }
        });
    });
    return {dz, dt};
}

}  // namespace mod::cpu
