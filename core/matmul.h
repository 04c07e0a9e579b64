// Matrix products. a (..., M, K) @ b (..., K, N) -> (..., M, N), batch dims broadcast.
// Operands whose last two dims are transposed views are used in place, without a copy.
#pragma once

#include "core/tensor.h"

namespace mod {

Tensor matmul(const Tensor& a, const Tensor& b);

}  // namespace mod
