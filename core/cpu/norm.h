// Fused normalisation kernels over the last dim of a contiguous (rows, D) input.
// Forward returns the row statistics that backward needs (mean and rstd, or rstd),
// so backward never recomputes or stores the normalised input.
#pragma once

#include "core/tensor.h"

namespace mod::cpu {

struct NormOutput {
    Tensor y;     // (rows, D)
    Tensor mean;  // (rows,), layer_norm only
    Tensor rstd;  // (rows,)
};

struct NormGrads {
    Tensor dx;       // (rows, D)
    Tensor dweight;  // (D,), when weight is given
    Tensor dbias;    // (D,), when bias is given
};

// weight and bias may be undefined.
NormOutput layer_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps);
NormGrads layer_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& weight, bool has_bias,
                              const Tensor& mean, const Tensor& rstd);
NormOutput rms_norm_forward(const Tensor& x, const Tensor& weight, double eps);
NormGrads rms_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& weight, const Tensor& rstd);

}  // namespace mod::cpu
