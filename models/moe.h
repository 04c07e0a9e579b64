// Mixture-of-experts layer (METHOD.md §1). Shape letters: N tokens, D width, E experts,
// K experts per token.
//
//   p = softmax(x W_r^T) in float32                          (N, E)
//   pick K experts per token (router_pick = topk | gumbel), drop picks over capacity
//   w = picked p renormalised over the kept picks            (N, K)
//   y_t = sum_k w_tk expert_{e_tk}(x_t)
// Tokens are grouped by expert and each expert runs one matrix product over its tokens;
// unpicked experts compute nothing. The backward pass reaches the experts through
// index_select and the router through w, and scatters back through index_add.
//   aux = E * sum_e mean_t(p_te) * frac_e   (frac_e: share of tokens whose top-1 is e; no gradient)
//   z   = mean_t (logsumexp_e logits_te)^2
#pragma once

#include <vector>

#include "models/config.h"
#include "nn/mlp.h"

namespace mod::models {

// Which experts each token uses, decided without gradient from the router logits.
struct Routing {
    int64_t tokens = 0, k = 0;
    std::vector<int64_t> expert;  // (N, K) row-major: expert of pick k of token t
    std::vector<uint8_t> kept;    // (N, K): 0 where capacity dropped the pick
    std::vector<int64_t> top1;    // (N,): first pick, for the load-balancing fractions
};

// logits (N, E) float. gen supplies the Gumbel noise (router_pick = gumbel only).
Routing route_tokens(const Tensor& logits, const MoeConfig& config, Generator* gen);

struct MoeOutput {
    Tensor y;    // (..., D)
    Tensor aux;  // scalar load-balancing loss of this layer (before aux_coef)
    Tensor z;    // scalar router z-loss of this layer (before zloss_coef)
    std::vector<int64_t> tokens_per_expert;
    int64_t dropped = 0;  // picks dropped by the capacity limit
};

class MoeLayer : public nn::Module {
public:
    MoeLayer(int64_t dim, int64_t hidden, const MoeConfig& config, Generator& gen, double init_std = 0.02);
    // Sparse upcycling: every expert an exact copy of `dense`, the router ~ U(-1/sqrt(D), 1/sqrt(D)).
    static std::shared_ptr<MoeLayer> upcycle(const nn::SwiGluMlp& dense, const MoeConfig& config, Generator& gen);

    // x (..., D) -> y (..., D). gen: Gumbel noise source, required when router_pick = gumbel.
    MoeOutput forward(const Tensor& x, Generator* gen) const;

    MoeConfig config;
    std::shared_ptr<nn::ModuleList<nn::SwiGluMlp>> experts;
    std::shared_ptr<nn::Linear> gate;  // router: (E, D), no bias
};

}  // namespace mod::models
