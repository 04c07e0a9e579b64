// Linear and Embedding layers.
#pragma once

#include "core/random.h"
#include "nn/module.h"

namespace mod::nn {

// y = x W^T + b; weight (out, in), bias (out,) optional. x (..., in) -> (..., out).
class Linear : public Module {
public:
    // Weights ~ Normal(0, init_std), bias 0 (the initialisation of Qwen2 and CLIP in HF).
    Linear(int64_t in_features, int64_t out_features, bool bias, Generator& gen, double init_std = 0.02);
    Tensor forward(const Tensor& x) const;

    Tensor weight;
    Tensor bias;  // undefined without bias
};

// x @ w computed in `compute` dtype when that is bfloat16 (operands cast, float32
// accumulation, the result cast back to x's dtype); a plain matmul otherwise. Casts are
// differentiable, so gradients reach float32 weights in float32.
Tensor matmul_in(const Tensor& x, const Tensor& w, DType compute);
// grouped_matmul (core/matmul.h) under the same rule.
Tensor grouped_matmul_in(const Tensor& x, const std::vector<Tensor>& w, const std::vector<int64_t>& sizes,
                         DType compute);

// Rows of weight (num, dim) looked up by integer ids (...) -> (..., dim).
class Embedding : public Module {
public:
    Embedding(int64_t num, int64_t dim, Generator& gen, double init_std = 0.02);
    Tensor forward(const Tensor& ids) const;

    Tensor weight;
};

}  // namespace mod::nn
