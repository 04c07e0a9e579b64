// Qwen2 decoder LM (METHOD.md §1), named as Hugging Face's Qwen2ForCausalLM:
//   model.embed_tokens.weight, model.layers.{i}.{input_layernorm, self_attn.{q,k,v,o}_proj,
//   post_attention_layernorm, mlp.{gate,up,down}_proj}, model.norm.weight, lm_head.weight (untied only)
// An MoE layer replaces mlp on the layers MoeConfig names: mlp.experts.{e}.*, mlp.gate.weight.
// Shape letters: B batch, T tokens, D width, V vocabulary.
#pragma once

#include <vector>

#include "models/moe.h"
#include "nn/attention.h"
#include "nn/norm.h"

namespace mod::models {

// What the MoE layers of one forward add up to.
struct MoeLosses {
    Tensor aux;  // sum over MoE layers of the load-balancing loss (before aux_coef)
    Tensor z;    // sum over MoE layers of the router z-loss (before zloss_coef)
    std::vector<std::vector<int64_t>> tokens_per_expert;  // per MoE layer
    int64_t dropped = 0;
    void add(const MoeOutput& out);
};

class Qwen2DecoderLayer : public nn::Module {
public:
    Qwen2DecoderLayer(const LMConfig& c, Generator& gen);
    // x (B, T, D), positions (B, T) -> (B, T, D)
    Tensor forward(const Tensor& x, const Tensor& positions, nn::KVCache* cache, MoeLosses* losses,
                   Generator* router_gen) const;
    // Replaces the dense MLP with an MoE layer whose experts copy it.
    void upcycle(const MoeConfig& moe, Generator& gen);
    bool is_sparse() const { return moe_mlp != nullptr; }

    std::shared_ptr<nn::RMSNorm> input_layernorm, post_attention_layernorm;
    std::shared_ptr<nn::Attention> self_attn;
    std::shared_ptr<nn::SwiGluMlp> dense_mlp;  // null once upcycled
    std::shared_ptr<MoeLayer> moe_mlp;         // null while dense
};

// The decoder body: embeddings, layers, final norm (HF's Qwen2Model, under the name "model").
class Qwen2Model : public nn::Module {
public:
    Qwen2Model(const LMConfig& c, Generator& gen);
    // embeds (B, T, D) -> final-normed hidden states (B, T, D). caches: one per layer, or null.
    Tensor forward_embeds(const Tensor& embeds, const Tensor& positions, std::vector<nn::KVCache>* caches,
                          MoeLosses* losses, Generator* router_gen) const;

    LMConfig config;
    std::shared_ptr<nn::Embedding> embed_tokens;
    std::shared_ptr<nn::ModuleList<Qwen2DecoderLayer>> layers;
    std::shared_ptr<nn::RMSNorm> norm;
};

// hidden (..., D) -> logits (..., V) through lm_head, or the embedding matrix when tied.
Tensor lm_logits(const Tensor& hidden, const Qwen2Model& body, const nn::Linear* lm_head);

// Positions 0..T-1 for every row: (B, T) int64.
Tensor default_positions(int64_t B, int64_t T, int64_t start = 0);

}  // namespace mod::models
