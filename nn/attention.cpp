#include "nn/attention.h"

#include "core/attention.h"
#include "core/view.h"

namespace mod::nn {

Attention::Attention(const AttentionConfig& c, Generator& gen) : config(c) {
    MOD_CHECK(c.heads > 0 && c.kv_heads > 0 && c.dim % c.heads == 0 && c.heads % c.kv_heads == 0, ValueError,
              "attention", "dim divisible by heads and heads by kv_heads expected, got dim ", c.dim, ", heads ",
              c.heads, ", kv_heads ", c.kv_heads);
    const int64_t head_dim = c.dim / c.heads;
    q_proj = register_module("q_proj", std::make_shared<Linear>(c.dim, c.heads * head_dim, c.qkv_bias, gen, c.init_std));
    k_proj = register_module("k_proj", std::make_shared<Linear>(c.dim, c.kv_heads * head_dim, c.qkv_bias, gen, c.init_std));
    v_proj = register_module("v_proj", std::make_shared<Linear>(c.dim, c.kv_heads * head_dim, c.qkv_bias, gen, c.init_std));
    o_proj = register_module(c.out_name, std::make_shared<Linear>(c.heads * head_dim, c.dim, c.out_bias, gen, c.init_std));
}

Tensor Attention::forward(const Tensor& x, const Tensor& positions, KVCache* cache) const {
    MOD_CHECK(x.dim() == 3 && x.size(2) == config.dim, ShapeError, "attention", "x of shape (B, T, ", config.dim,
              ") expected, got ", shape_str(x.shape()));
    const int64_t B = x.size(0), T = x.size(1), H = config.heads, Hkv = config.kv_heads, Dh = config.dim / H;
    Tensor q = q_proj->forward(x).view({B, T, H, Dh}).transpose(1, 2);    // (B, H, T, Dh)
    Tensor k = k_proj->forward(x).view({B, T, Hkv, Dh}).transpose(1, 2);  // (B, Hkv, T, Dh)
    Tensor v = v_proj->forward(x).view({B, T, Hkv, Dh}).transpose(1, 2);  // (B, Hkv, T, Dh)
    if (config.rope) {
        check_defined(positions, "attention", "positions (RoPE needs them)");
        q = rope(q, positions, config.rope_theta);
        k = rope(k, positions, config.rope_theta);
    }
    if (cache) {
        if (cache->length() > 0) {
            k = cat({cache->k, k}, 2);  // (B, Hkv, S, Dh)
            v = cat({cache->v, v}, 2);
        }
        cache->k = k.detach();
        cache->v = v.detach();
    }
    // Mixed precision: with bfloat16 compute on the GPU, attention runs on the tensor cores in
    // bfloat16 (float32 softmax statistics); RoPE and the cache above stay in x's dtype. The
    // casts are differentiable, so the gradients flow back in x's dtype.
    const bool bf16 = compute_dtype() == DType::BF16 && x.device().is_cuda();
    auto in = [bf16](const Tensor& t) { return bf16 ? t.to(DType::BF16) : t; };
    Tensor out = scaled_dot_product_attention(in(q), in(k), in(v), config.causal).to(x.dtype());  // (B, H, T, Dh)
    return o_proj->forward(out.transpose(1, 2).reshape({B, T, H * Dh}));  // (B, T, D)
}

}  // namespace mod::nn
