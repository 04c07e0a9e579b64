// Row softmax kernels on contiguous (rows, n) matrices.
#pragma once

#include "core/tensor.h"

namespace mod::cpu {

Tensor softmax_forward(const Tensor& x);
// dx = y * (dy - sum(dy * y))
Tensor softmax_backward(const Tensor& y, const Tensor& dy);
Tensor log_softmax_forward(const Tensor& x);
// dx = dy - exp(y) * sum(dy)
Tensor log_softmax_backward(const Tensor& y, const Tensor& dy);

}  // namespace mod::cpu
