// Indexing kernels. Tensors are viewed as (outer, n, inner) around the indexed dim and
// must be contiguous; indices are int64 and already bounds-checked.
#pragma once

#include "core/tensor.h"

namespace mod::cpu {

// x (outer, n, inner), index (m,) -> (outer, m, inner)
Tensor index_select(const Tensor& x, const Tensor& index);
// dx (outer, n, inner) += dy (outer, m, inner) at rows index; parallel over (outer, inner)
// columns so no two threads add into one element: deterministic.
void index_add(const Tensor& dx, const Tensor& index, const Tensor& dy);
// x (outer, n, inner), index (outer, m, inner) -> (outer, m, inner)
Tensor gather(const Tensor& x, const Tensor& index);
// out (outer, n, inner) += src (outer, m, inner) at index (outer, m, inner)
void scatter_add(const Tensor& out, const Tensor& index, const Tensor& src);
// Rows of x (rows, n) -> values (rows, k) and int64 indices (rows, k).
std::pair<Tensor, Tensor> topk_rows(const Tensor& x, int64_t k, bool largest);

}  // namespace mod::cpu
