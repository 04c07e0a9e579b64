// 2-D convolution (cross-correlation, as in every framework) for patch embeddings.
#pragma once

#include "core/tensor.h"

namespace mod {

// x (B, C, H, W), weight (O, C, kh, kw), bias (O,) or undefined -> (B, O, Ho, Wo) with
// Ho = (H + 2 padding - kh) / stride + 1 (and likewise Wo).
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t stride = 1, int64_t padding = 0);

}  // namespace mod
