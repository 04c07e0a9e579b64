// LayerNorm (CLIP) and RMSNorm (Qwen2) over the last dim, with a learned scale.
#pragma once

#include "nn/module.h"

namespace mod::nn {

class LayerNorm : public Module {
public:
    explicit LayerNorm(int64_t dim, double eps = 1e-5);
    Tensor forward(const Tensor& x) const;

    Tensor weight, bias;
    double eps;
};

class RMSNorm : public Module {
public:
    explicit RMSNorm(int64_t dim, double eps = 1e-6);
    Tensor forward(const Tensor& x) const;

    Tensor weight;
    double eps;
};

}  // namespace mod::nn
