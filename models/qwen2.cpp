#include "models/qwen2.h"

#include "core/elementwise.h"
#include "core/matmul.h"

namespace mod::models {

void MoeLosses::add(const MoeOutput& out) {
    aux = aux.defined() ? aux + out.aux : out.aux;
    z = z.defined() ? z + out.z : out.z;
    tokens_per_expert.push_back(out.tokens_per_expert);
    dropped += out.dropped;
}

namespace {
nn::AttentionConfig qwen2_attention(const LMConfig& c) {
    nn::AttentionConfig a;
    a.dim = c.hidden_size;
    a.heads = c.num_heads;
    a.kv_heads = c.num_kv_heads;
    a.qkv_bias = true;
    a.out_bias = false;
    a.causal = true;
    a.rope = true;
    a.rope_theta = c.rope_theta;
    a.out_name = "o_proj";
    a.init_std = c.init_std;
    return a;
}
}  // namespace

Qwen2DecoderLayer::Qwen2DecoderLayer(const LMConfig& c, Generator& gen) {
    input_layernorm = register_module("input_layernorm", std::make_shared<nn::RMSNorm>(c.hidden_size, c.rms_norm_eps));
    self_attn = register_module("self_attn", std::make_shared<nn::Attention>(qwen2_attention(c), gen));
    post_attention_layernorm =
        register_module("post_attention_layernorm", std::make_shared<nn::RMSNorm>(c.hidden_size, c.rms_norm_eps));
    dense_mlp = register_module("mlp", std::make_shared<nn::SwiGluMlp>(c.hidden_size, c.intermediate_size, gen, c.init_std));
}

Tensor Qwen2DecoderLayer::forward(const Tensor& x, const Tensor& positions, nn::KVCache* cache, MoeLosses* losses,
                                  Generator* router_gen) const {
    Tensor h = x + self_attn->forward(input_layernorm->forward(x), positions, cache);  // (B, T, D)
    Tensor normed = post_attention_layernorm->forward(h);
    if (!moe_mlp) return h + dense_mlp->forward(normed);
    MoeOutput out = moe_mlp->forward(normed, router_gen);
    if (losses) losses->add(out);
    return h + out.y;
}

void Qwen2DecoderLayer::upcycle(const MoeConfig& moe, Generator& gen) {
    MOD_CHECK(dense_mlp != nullptr, ValueError, "upcycle", "a dense layer expected; this one is already sparse");
    moe_mlp = MoeLayer::upcycle(*dense_mlp, moe, gen);
    replace_module("mlp", moe_mlp);
    dense_mlp.reset();
}

Qwen2Model::Qwen2Model(const LMConfig& c, Generator& gen) : config(c) {
    embed_tokens = register_module("embed_tokens", std::make_shared<nn::Embedding>(c.vocab_size, c.hidden_size, gen, c.init_std));
    layers = register_module("layers", std::make_shared<nn::ModuleList<Qwen2DecoderLayer>>());
    for (int64_t i = 0; i < c.num_layers; ++i) layers->push_back(std::make_shared<Qwen2DecoderLayer>(c, gen));
    norm = register_module("norm", std::make_shared<nn::RMSNorm>(c.hidden_size, c.rms_norm_eps));
}

Tensor Qwen2Model::forward_embeds(const Tensor& embeds, const Tensor& positions, std::vector<nn::KVCache>* caches,
                                  MoeLosses* losses, Generator* router_gen) const {
    if (caches) MOD_CHECK(caches->size() == layers->size(), ValueError, "qwen2", layers->size(),
                          " KV caches expected, got ", caches->size());
    Tensor h = embeds;
    for (size_t i = 0; i < layers->size(); ++i)
        h = (*layers)[i]->forward(h, positions, caches ? &(*caches)[i] : nullptr, losses, router_gen);
    return norm->forward(h);
}

Tensor lm_logits(const Tensor& hidden, const Qwen2Model& body, const nn::Linear* lm_head) {
    if (lm_head) return lm_head->forward(hidden);
    return nn::matmul_in(hidden, body.embed_tokens->weight.transpose(0, 1), body.compute_dtype());  // tied: h E^T
}

Tensor default_positions(int64_t B, int64_t T, int64_t start) {
    std::vector<int64_t> pos(B * T);
    for (int64_t b = 0; b < B; ++b)
        for (int64_t t = 0; t < T; ++t) pos[b * T + t] = start + t;
    return Tensor::from_vector<int64_t>(pos, {B, T});
}

}  // namespace mod::models
