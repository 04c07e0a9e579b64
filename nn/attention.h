// Multi-head attention with grouped-query heads, optional RoPE, causal or not, and a KV
// cache for token-by-token decoding. Shape letters: B batch, T new tokens, S cached +
// new tokens, D model width, H query heads, Hkv key/value heads, Dh = D / H.
#pragma once

#include <string>

#include "nn/linear.h"

namespace mod::nn {

struct AttentionConfig {
    int64_t dim = 0;
    int64_t heads = 0;
    int64_t kv_heads = 0;         // = heads for plain multi-head attention
    bool qkv_bias = true;         // Qwen2 and CLIP both have q/k/v biases
    bool out_bias = false;        // CLIP's out_proj has one, Qwen2's o_proj does not
    bool causal = true;
    bool rope = true;
    double rope_theta = 1e6;
    std::string out_name = "o_proj";  // "out_proj" in CLIP
    double init_std = 0.02;
};

// Keys and values of the tokens seen so far, (B, Hkv, S, Dh) each; empty at the start.
struct KVCache {
    Tensor k, v;
    int64_t length() const { return k.defined() ? k.size(2) : 0; }
};

class Attention : public Module {
public:
    Attention(const AttentionConfig& config, Generator& gen);
    // x (B, T, D), positions int (B, T) (needed with RoPE) -> (B, T, D). With a cache, the
    // new keys and values are appended to it and the queries attend to all S of them.
    Tensor forward(const Tensor& x, const Tensor& positions, KVCache* cache = nullptr) const;

    AttentionConfig config;
    std::shared_ptr<Linear> q_proj, k_proj, v_proj, o_proj;
};

}  // namespace mod::nn
