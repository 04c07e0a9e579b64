// Fused loss kernels over contiguous (N, V) logits.
#pragma once

#include "core/tensor.h"

namespace mod::cpu {

struct CrossEntropyForward {
    Tensor loss;   // scalar
    Tensor lse;    // (N,) row log-sum-exp
    int64_t valid; // rows whose target is not ignored
};

CrossEntropyForward cross_entropy_forward(const Tensor& logits, const Tensor& targets, int64_t ignore_index,
                                          double smoothing);
// dz = scale * (softmax(z) - (1 - eps) onehot(t) - eps / V) on valid rows, 0 on ignored rows.
Tensor cross_entropy_backward(const Tensor& logits, const Tensor& targets, const Tensor& lse, int64_t ignore_index,
                              double smoothing, double scale);

struct SoftCrossEntropyForward {
    Tensor loss;       // scalar
    Tensor lse_s;      // (N,) log-sum-exp of z / tau
    Tensor lse_t;      // (N,) log-sum-exp of t / tau
    Tensor row_loss;   // (N,) per-row loss before the mean, already times tau^2
};

SoftCrossEntropyForward soft_cross_entropy_forward(const Tensor& z, const Tensor& t, double tau);
// dz = scale * tau * (p_S - p_T);  dt = scale * tau * p_T * (c - row_loss / tau^2), c = -log p_S
// Either output may be skipped (need_dz / need_dt).
std::pair<Tensor, Tensor> soft_cross_entropy_backward(const Tensor& z, const Tensor& t,
                                                      const SoftCrossEntropyForward& fwd, double tau, double scale,
                                                      bool need_dz, bool need_dt);

}  // namespace mod::cpu
