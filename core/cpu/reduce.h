// Row reductions on a contiguous (rows, R) matrix. Every reduction over arbitrary dims is
// brought to this form by a permute + reshape (autograd/reduce.cpp).
#pragma once

#include "core/tensor.h"

namespace mod::cpu {

Tensor row_sum(const Tensor& x);  // (rows,)
// Values (rows,) and int64 indices (rows,) of the first maximum of each row.
std::pair<Tensor, Tensor> row_max(const Tensor& x);
Tensor row_logsumexp(const Tensor& x);  // (rows,)
// Sums of the columns of a contiguous (R, C) matrix, (C,): the same double sums in the same
// row order as row_sum of its transpose, without the transposed copy. A bias gradient (a sum
// over the tokens of a (tokens, D) gradient) reads its rows in place this way.
Tensor column_sum(const Tensor& x);

}  // namespace mod::cpu
