// conv2d as im2col + one GEMM. Columns are laid out (C kh kw, B Ho Wo) so that the whole
// batch is one product: Y (O, B Ho Wo) = W (O, C kh kw) cols.
#pragma once

#include "core/tensor.h"

namespace mod::cpu {

struct ConvGeometry {
    int64_t B, C, H, W, O, kh, kw, stride, padding, Ho, Wo;
};

Tensor im2col(const Tensor& x, const ConvGeometry& g);    // (C kh kw, B Ho Wo)
Tensor col2im(const Tensor& cols, const ConvGeometry& g);  // (B, C, H, W), overlapping patches summed
Tensor conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const ConvGeometry& g);

struct ConvGrads {
    Tensor dx, dweight, dbias;
};

// dW = dY cols^T, dcols = W^T dY -> col2im, db = sum of dY over (B, Ho, Wo).
ConvGrads conv2d_backward(const Tensor& dy, const Tensor& x, const Tensor& weight, bool has_bias,
                          const ConvGeometry& g, bool need_dx);

}  // namespace mod::cpu
