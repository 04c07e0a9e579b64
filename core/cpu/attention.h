// CPU attention kernels; see core/attention.h for the shapes. The (B, heads, T, Dh) operands
// may have any strides with contiguous rows of Dh; outputs and gradients of q, k, v come back
// token-major, (B, T, heads, Dh) memory seen as (B, heads, T, Dh), and rope's output keeps
// x's layout when x is token-major.
#pragma once

#include "core/tensor.h"

namespace mod::cpu {

// positions: contiguous int64 (B, T). sign = +1 rotates forward; -1 is the inverse
// rotation, which is also the backward (the rotation matrix is orthogonal).
Tensor rope(const Tensor& x, const Tensor& positions, double theta, double sign);

struct AttentionForward {
    Tensor out;  // (B, H, T, Dh)
    Tensor lse;  // (B, H, T): log sum_j exp(score_ij), for the recomputing backward
};

AttentionForward attention_forward(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, double scale);

struct AttentionGrads {
    Tensor dq, dk, dv;
};

AttentionGrads attention_backward(const Tensor& dout, const Tensor& q, const Tensor& k, const Tensor& v,
                                  const Tensor& out, const Tensor& lse, bool causal, double scale);

}  // namespace mod::cpu
