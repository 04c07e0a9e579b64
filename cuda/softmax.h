// CUDA row softmax kernels on contiguous (rows, n) matrices (see core/cpu/softmax.h).
#pragma once

#include "core/tensor.h"

namespace mod::cuda {

Tensor softmax_forward(const Tensor& x);
Tensor softmax_backward(const Tensor& y, const Tensor& dy);
Tensor log_softmax_forward(const Tensor& x);
Tensor log_softmax_backward(const Tensor& y, const Tensor& dy);

}  // namespace mod::cuda
