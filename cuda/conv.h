// CUDA conv2d as im2col + one cuBLAS product (see core/cpu/conv.h for the layout).
#pragma once

#include "core/cpu/conv.h"

namespace mod::cuda {

using cpu::ConvGeometry;
using cpu::ConvGrads;

Tensor conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const ConvGeometry& g);
ConvGrads conv2d_backward(const Tensor& dy, const Tensor& x, const Tensor& weight, bool has_bias,
                          const ConvGeometry& g, bool need_dx);

}  // namespace mod::cuda
