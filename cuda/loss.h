// CUDA fused losses over contiguous (N, V) logits (see core/cpu/loss.h): the softmax over
// the vocabulary is never stored; forward keeps the row log-sum-exps for backward.
#pragma once

#include <utility>

#include "core/cpu/loss.h"

namespace mod::cuda {

using cpu::CrossEntropyForward;
using cpu::SoftCrossEntropyForward;

CrossEntropyForward cross_entropy_forward(const Tensor& logits, const Tensor& targets, int64_t ignore_index,
                                          double smoothing);
Tensor cross_entropy_backward(const Tensor& logits, const Tensor& targets, const Tensor& lse, int64_t ignore_index,
                              double smoothing, double scale);
SoftCrossEntropyForward soft_cross_entropy_forward(const Tensor& z, const Tensor& t, double tau);
std::pair<Tensor, Tensor> soft_cross_entropy_backward(const Tensor& z, const Tensor& t,
                                                      const SoftCrossEntropyForward& fwd, double tau, double scale,
                                                      bool need_dz, bool need_dt);

}  // namespace mod::cuda
