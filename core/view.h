// Joining and splitting tensors. The single-tensor views (reshape, permute, narrow,
// expand, ...) are Tensor methods; all of them are differentiable (autograd/view.cpp).
#pragma once

#include <vector>

#include "core/tensor.h"

namespace mod {

// Concatenates along dim; all other sizes must agree.
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim);
// Stacks equal-shaped tensors along a new dim.
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim);
// Views of consecutive pieces of `sizes` along dim (sizes sum to the dim's size).
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim);
// `chunks` views of equal size along dim (the last one smaller when it does not divide).
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim);

}  // namespace mod
