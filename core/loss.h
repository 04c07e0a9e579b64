// Losses fused over the vocabulary: they read the logits once for the row log-sum-exp and
// keep only that per row for backward (never a (N, V) softmax).
#pragma once

#include "core/tensor.h"

namespace mod {

// logits (N, V), targets (N,) int -> scalar mean over rows whose target != ignore_index:
//   loss_i = (1 - eps) * (lse_i - z_i,t) + eps * (lse_i - mean_v z_i,v)    (eps = label smoothing)
// Returns 0 (with zero gradient) when every target is ignored.
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, int64_t ignore_index = -100,
                     double label_smoothing = 0.0);

// Soft cross-entropy to a target distribution given by logits, with temperature tau:
//   loss = tau^2 * mean_i [ - sum_v softmax(t_i / tau)_v * log_softmax(z_i / tau)_v ]
// logits and target_logits are (N, V). The knowledge-distillation loss of METHOD.md §2;
// same gradient in z as KL(p_T || p_S). Differentiable in both arguments.
Tensor soft_cross_entropy(const Tensor& logits, const Tensor& target_logits, double tau = 1.0);

// KL(p_T || p_S) = soft_cross_entropy(z, t) - soft_cross_entropy(t, t), per row averaged.
Tensor kl_div(const Tensor& logits, const Tensor& target_logits, double tau = 1.0);

}  // namespace mod
