#include "models/moe.h"

#include <cmath>
#include <numeric>

#include "autograd/grad_mode.h"
#include "core/elementwise.h"
#include "core/index.h"
#include "core/random.h"
#include "core/reduce.h"
#include "core/softmax.h"

namespace mod::models {

Routing route_tokens(const Tensor& logits, const MoeConfig& c, Generator* gen) {
    const int64_t N = logits.size(0), E = logits.size(1), K = c.top_k;
    Routing r{N, K, std::vector<int64_t>(N * K), std::vector<uint8_t>(N * K, 1), std::vector<int64_t>(N)};
    const std::vector<double> z = logits.to_vector<double>();
    std::vector<double> noise;
    if (c.router_pick == "gumbel") {
        MOD_CHECK(gen != nullptr, ValueError, "moe", "router_pick=gumbel needs a random generator");
        noise = rand({N, E}, *gen, DType::F64).to_vector<double>();
    }
    for (int64_t t = 0; t < N; ++t) {
        const double* row = &z[t * E];
        std::vector<uint8_t> taken(E, 0);
        for (int64_t k = 0; k < K; ++k) {
            // topk: the k-th largest logit. gumbel: the largest first, then argmax of
            // logits + Gumbel noise over the experts not taken yet (the public code's pick).
            int64_t best = -1;
            double best_v = -INFINITY;
            for (int64_t e = 0; e < E; ++e) {
                if (taken[e]) continue;
                double v = row[e];
                if (k > 0 && !noise.empty()) {
                    const double u = std::min(std::max(noise[t * E + e], 1e-12), 1.0 - 1e-12);
                    v += -std::log(-std::log(u));
                }
                if (best < 0 || v > best_v) {
                    best = e;
                    best_v = v;
                }
            }
            taken[best] = 1;
            r.expert[t * K + k] = best;
        }
        r.top1[t] = r.expert[t * K];
    }
    if (c.capacity_factor > 0.0) {
        // Each expert takes at most ceil(N / E * c * K) picks, in token order, all first
        // picks before any second pick.
        const int64_t capacity = static_cast<int64_t>(std::ceil(double(N) / E * c.capacity_factor * K));
        std::vector<int64_t> load(E, 0);
        for (int64_t k = 0; k < K; ++k)
            for (int64_t t = 0; t < N; ++t) {
                int64_t& l = load[r.expert[t * K + k]];
                if (l < capacity) {
                    ++l;
                } else {
                    r.kept[t * K + k] = 0;
                }
            }
    }
    return r;
}

MoeLayer::MoeLayer(int64_t dim, int64_t hidden, const MoeConfig& c, Generator& gen, double init_std) : config(c) {
    experts = register_module("experts", std::make_shared<nn::ModuleList<nn::SwiGluMlp>>());
    for (int64_t e = 0; e < c.num_experts; ++e)
        experts->push_back(std::make_shared<nn::SwiGluMlp>(dim, hidden, gen, init_std));
    gate = register_module("gate", std::make_shared<nn::Linear>(dim, c.num_experts, false, gen, init_std));
}

std::shared_ptr<MoeLayer> MoeLayer::upcycle(const nn::SwiGluMlp& dense, const MoeConfig& c, Generator& gen) {
    const int64_t dim = dense.gate_proj->weight.size(1), hidden = dense.gate_proj->weight.size(0);
    auto layer = std::make_shared<MoeLayer>(dim, hidden, c, gen);
    for (const auto& expert : *layer->experts) expert->copy_from(dense);
    NoGradGuard no_grad;
    const double bound = 1.0 / std::sqrt(static_cast<double>(dim));
    uniform_(layer->gate->weight, -bound, bound, gen);
    return layer;
}

MoeOutput MoeLayer::forward(const Tensor& x, Generator* gen) const {
    const int64_t D = x.size(-1), E = config.num_experts, K = config.top_k;
    Tensor x2 = x.reshape({-1, D});  // (N, D)
    const int64_t N = x2.size(0);
    // The router runs in float32 at least (float64 in gradient checks), whatever x is.
    const DType router_dtype = x2.dtype() == DType::F64 ? DType::F64 : DType::F32;
    Tensor logits = gate->forward(x2.to(router_dtype));  // (N, E)
    Tensor probs = softmax(logits, 1);                  // (N, E)
    Routing r = route_tokens(logits.detach(), config, gen);

    // w (N, K): picked probabilities, renormalised over the picks capacity kept.
    Tensor picks = Tensor::from_vector<int64_t>(r.expert, {N, K}).to(x.device());
    std::vector<double> keep_v(r.kept.begin(), r.kept.end());
    Tensor keep = Tensor::from_vector<double>(keep_v, {N, K}).to(router_dtype).to(x.device());
    Tensor kept_p = gather(probs, 1, picks) * keep;
    Tensor denom = sum(kept_p, {1}, true);
    Tensor w = (kept_p / (denom + eq(denom, 0.0).to(router_dtype))).reshape({N * K}).to(x.dtype());  // all dropped: w = 0

    // The kept picks grouped by expert (token order within an expert): rows[i] is the token of
    // the i-th grouped pick and slots[i] its (token, k) slot, for its weight.
    MoeOutput out;
    out.tokens_per_expert.assign(E, 0);
    std::vector<int64_t> rows, slots;
    for (int64_t e = 0; e < E; ++e)
        for (int64_t t = 0; t < N; ++t)
            for (int64_t k = 0; k < K; ++k)
                if (r.kept[t * K + k] && r.expert[t * K + k] == e) {
                    rows.push_back(t);
                    slots.push_back(t * K + k);
                    ++out.tokens_per_expert[e];
                }
    const int64_t M = static_cast<int64_t>(rows.size());
    out.dropped = N * K - M;
    Tensor y = Tensor::zeros({N, D}, x.dtype(), x.device());
    if (M > 0) {
        // Every expert's SwiGLU at once: three grouped products, no padding, one launch each on the GPU.
        Tensor row_idx = Tensor::from_vector<int64_t>(rows, {M}).to(x.device());
        Tensor xs = index_select(x2, 0, row_idx);                                              // (M, D)
        Tensor ws = index_select(w, 0, Tensor::from_vector<int64_t>(slots, {M}).to(x.device()));  // (M,)
        // Experts no token picked stay out of the graph: their weights get no gradient at all.
        std::vector<Tensor> gate_w, up_w, down_w;
        std::vector<int64_t> sizes;
        for (int64_t e = 0; e < E; ++e) {
            if (out.tokens_per_expert[e] == 0) continue;
            const nn::SwiGluMlp& expert = *(*experts)[e];
            gate_w.push_back(expert.gate_proj->weight.transpose(0, 1));
            up_w.push_back(expert.up_proj->weight.transpose(0, 1));
            down_w.push_back(expert.down_proj->weight.transpose(0, 1));
            sizes.push_back(out.tokens_per_expert[e]);
        }
        const DType c = compute_dtype();
        Tensor h = swiglu(nn::grouped_matmul_in(xs, gate_w, sizes, c),
                          nn::grouped_matmul_in(xs, up_w, sizes, c));  // (M, F)
        Tensor ys = nn::grouped_matmul_in(h, down_w, sizes, c);  // (M, D)
        y = index_add(y, 0, row_idx, ys * ws.unsqueeze(1));
    }
    out.y = y.reshape(x.shape());

    std::vector<double> frac(E, 0.0);
    for (int64_t t = 0; t < N; ++t) frac[r.top1[t]] += 1.0 / static_cast<double>(N);
    out.aux = sum(mean(probs, {0}) * Tensor::from_vector<double>(frac, {E}).to(router_dtype).to(x.device())) * static_cast<double>(E);
    out.z = mean(pow(logsumexp(logits, {1}), 2.0));
    return out;
}

}  // namespace mod::models
