// CUDA attention: RoPE and a fused flash-attention kernel pair (see core/cpu/attention.h
// for the shapes). Forward keeps only the output and the per-row log-sum-exp; backward
// recomputes the probabilities tile by tile.
#pragma once

#include "core/cpu/attention.h"

namespace mod::cuda {

using cpu::AttentionForward;
using cpu::AttentionGrads;

Tensor rope(const Tensor& x, const Tensor& positions, double theta, double sign);
AttentionForward attention_forward(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, double scale);
AttentionGrads attention_backward(const Tensor& dout, const Tensor& q, const Tensor& k, const Tensor& v,
                                  const Tensor& out, const Tensor& lse, bool causal, double scale);

}  // namespace mod::cuda
