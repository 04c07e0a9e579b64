// CUDA fused normalisation over the last dim of a contiguous (rows, D) input
// (see core/cpu/norm.h: forward returns the row statistics backward needs).
#pragma once

#include "core/cpu/norm.h"

namespace mod::cuda {

using cpu::NormGrads;
using cpu::NormOutput;

NormOutput layer_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps);
NormGrads layer_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& weight, bool has_bias,
                              const Tensor& mean, const Tensor& rstd);
NormOutput rms_norm_forward(const Tensor& x, const Tensor& weight, double eps);
NormGrads rms_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& weight, const Tensor& rstd);

}  // namespace mod::cuda
