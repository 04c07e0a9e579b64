// softmax and log_softmax along one dim, fused (one pass for the row max, one for the sum).
#pragma once

#include "core/tensor.h"

namespace mod {

Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

}  // namespace mod
