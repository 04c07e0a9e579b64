// CUDA indexing kernels, the contract of core/cpu/index.h: contiguous tensors viewed as
// (outer, n, inner) around the indexed dim, int64 indices already bounds-checked.
#pragma once

#include <utility>

#include "core/tensor.h"

namespace mod::cuda {

Tensor index_select(const Tensor& x, const Tensor& index);
void index_add(const Tensor& dx, const Tensor& index, const Tensor& dy);
Tensor gather(const Tensor& x, const Tensor& index);
void scatter_add(const Tensor& out, const Tensor& index, const Tensor& src);
std::pair<Tensor, Tensor> topk_rows(const Tensor& x, int64_t k, bool largest);

}  // namespace mod::cuda
