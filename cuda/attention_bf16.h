// bfloat16 flash attention on tensor cores (cuda/attention_bf16.cu): what attention_forward
// and attention_backward of cuda/attention.cu run when q, k, v are bfloat16. Shapes and
// semantics as there; out and dq, dk, dv are bfloat16, lse is float32 (B, H, T).
#pragma once

#include "cuda/attention.h"

namespace mod::cuda {

AttentionForward attention_forward_bf16(const Tensor& q, const Tensor& k, const Tensor& v, bool causal,
                                        double scale);
AttentionGrads attention_backward_bf16(const Tensor& dout, const Tensor& q, const Tensor& k, const Tensor& v,
                                       const Tensor& out, const Tensor& lse, bool causal, double scale);

}  // namespace mod::cuda
