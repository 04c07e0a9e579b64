// Reductions over dims, all differentiable: sum, mean, max, logsumexp; argmax (indices,
// no gradient); sum_to, the reduction that undoes broadcasting in backward.
// An empty dims list reduces over every dim.
#pragma once

#include <vector>

#include "core/tensor.h"

namespace mod {

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// Largest value; the gradient goes to the first position holding it.
Tensor max(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// log(sum(exp(x))) computed stably: m + log(sum(exp(x - m))).
Tensor logsumexp(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// int64 index of the first largest value along dim.
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);
// Sums x down to `shape`, which must broadcast to x.shape(); x itself when shapes agree.
Tensor sum_to(const Tensor& x, const Shape& shape);

}  // namespace mod
