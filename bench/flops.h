// Matrix-product FLOPs of the models' forward passes, 2*M*K*N per product with attention on
// the full T x T: a forward pass costs F = sum over linear layers of 2 * tokens * in * out
// (MoE layers: the router plus K experts per token) + 4 * B * H * T^2 * Dh per attention
// layer; a trained pass costs 3F (backward = two products per forward product), a no-grad
// pass F.
#pragma once

#include <algorithm>

#include "models/config.h"

namespace mod::bench {

inline double linear_flops(double tokens, double in, double out) { return 2 * tokens * in * out; }

// Forward FLOPs of the LM on B x T tokens (sparse: MoE on config.moe.layers).
inline double lm_forward_flops(const models::MllmConfig& c, bool sparse, double B, double T) {
    const auto& lm = c.lm;
    const double n = B * T, D = lm.hidden_size, Dh = D / lm.num_heads, kv = lm.num_kv_heads * Dh;
    double f = 0;
    for (int64_t l = 0; l < lm.num_layers; ++l) {
        f += linear_flops(n, D, D) * 2 + linear_flops(n, D, kv) * 2;  // q, o, k, v
        f += 4 * B * lm.num_heads * T * T * Dh;                      // scores and weighted sum
        const bool moe = sparse && std::count(c.moe.layers.begin(), c.moe.layers.end(), l);
        const double experts = moe ? c.moe.top_k : 1;
        f += experts * 3 * linear_flops(n, D, lm.intermediate_size) + (moe ? linear_flops(n, D, c.moe.num_experts) : 0);
    }
    return f + linear_flops(n, D, lm.vocab_size);  // lm_head
}

inline double vision_forward_flops(const models::VisionConfig& v, double B) {
    const double P = v.num_patches(), n = B * (P + 1), D = v.hidden_size, Dh = D / v.num_heads;
    double f = linear_flops(B * P, 3.0 * v.patch_size * v.patch_size, D);
    f += v.layers_used() * (4 * linear_flops(n, D, D) + 2 * linear_flops(n, D, v.intermediate_size) +
                            4 * B * v.num_heads * (P + 1) * (P + 1) * Dh);
    return f;
}

}  // namespace mod::bench
