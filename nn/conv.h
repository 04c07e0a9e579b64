// Conv2d layer: the CLIP patch embedding (kernel = stride = patch, no bias).
#pragma once

#include "core/random.h"
#include "nn/module.h"

namespace mod::nn {

class Conv2d : public Module {
public:
    Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride, bool bias, Generator& gen,
           double init_std = 0.02);
    Tensor forward(const Tensor& x) const;  // (B, C, H, W) -> (B, O, Ho, Wo)

    Tensor weight;  // (O, C, kernel, kernel)
    Tensor bias;    // (O,) or undefined
    int64_t stride;
};

}  // namespace mod::nn
