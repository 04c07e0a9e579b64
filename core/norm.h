// Normalisation over the last dim, fused: layer_norm (mean and variance) and rms_norm
// (root mean square, as Qwen2 uses). weight and bias are (D,) and optional.
#pragma once

#include "core/tensor.h"

namespace mod {

// y = (x - mean) / sqrt(var + eps) * weight + bias; var is the biased variance.
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps);
// y = x / sqrt(mean(x^2) + eps) * weight
Tensor rms_norm(const Tensor& x, const Tensor& weight, double eps);

}  // namespace mod
