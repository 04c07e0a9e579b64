// Row reductions on a contiguous (rows, R) matrix. Every reduction over arbitrary dims is
// brought to this form by a permute + reshape (autograd/reduce.cpp).
#pragma once

#include "core/tensor.h"

namespace mod::cpu {

Tensor row_sum(const Tensor& x);  // (rows,)
// Values (rows,) and int64 indices (rows,) of the first maximum of each row.
std::pair<Tensor, Tensor> row_max(const Tensor& x);
Tensor row_logsumexp(const Tensor& x);  // (rows,)

}  // namespace mod::cpu
