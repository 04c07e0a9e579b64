// Attention: rotary position embedding and fused scaled-dot-product attention.
// Shape letters: B batch, H query heads, Hkv key/value heads, T queries, S keys, Dh head dim.
#pragma once

#include "core/tensor.h"

namespace mod {

// Rotary embedding, rotate-half convention (Qwen2/Llama): with x = [x1, x2] split in halves
// and angle_i = pos * theta^(-2i/Dh):  out = [x1 cos - x2 sin, x2 cos + x1 sin].
// x (B, H, T, Dh), positions int (T,) or (B, T).
Tensor rope(const Tensor& x, const Tensor& positions, double theta);

// softmax(q k^T * scale [+ causal mask]) v with grouped-query heads: query head h reads
// key/value head h / (H / Hkv). q (B, H, T, Dh), k and v (B, Hkv, S, Dh) -> (B, H, T, Dh).
// Causal: query i sees keys j <= i + (S - T), so a query block at the end of a KV cache
// works. scale <= 0 means 1/sqrt(Dh). Forward and backward are fused: only the output and
// the per-row log-sum-exp (B, H, T) are kept; backward recomputes the probabilities block
// by block, so no T x S matrix is ever stored.
// float32 or float64; on CUDA also bfloat16 (tensor cores, float32 accumulation and
// float32 row statistics), the mixed-precision path nn::Attention takes under bf16 compute.
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, bool causal,
                                    double scale = 0.0);

}  // namespace mod
