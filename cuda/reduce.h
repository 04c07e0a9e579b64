// CUDA row reductions on a contiguous (rows, R) matrix (see core/cpu/reduce.h).
#pragma once

#include <utility>

#include "core/tensor.h"

namespace mod::cuda {

Tensor row_sum(const Tensor& x);
std::pair<Tensor, Tensor> row_max(const Tensor& x);  // values, int64 index of the first maximum
Tensor row_logsumexp(const Tensor& x);

}  // namespace mod::cuda
