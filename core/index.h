// Indexing ops: embedding, index_select, gather, scatter_add, top-k. Indices are int32 or
// int64 tensors; an index out of range raises ValueError naming the op, the index and the
// range. No gradient flows to indices.
#pragma once

#include <utility>

#include "core/tensor.h"

namespace mod {

// weight (V, D), ids (...) -> (..., D): rows of weight. Backward scatter-adds into (V, D).
Tensor embedding(const Tensor& weight, const Tensor& ids);
// x (..., n, ...) along dim, index (m,) -> (..., m, ...).
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
// out = x, then out[..., index[j], ...] += src[..., j, ...] along dim; index (m,), src has
// x's shape with m along dim. The inverse of index_select: MoE combines expert outputs
// with it, and the MLLM places image features at their positions.
Tensor index_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
// out[..., j, ...] = x[..., index[..., j, ...], ...] along dim; index has x's shape except
// along dim (any length there); out has index's shape.
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
// out = x, then out[..., index[..., j, ...], ...] += src[..., j, ...] along dim; src has
// index's shape, which equals x's except along dim.
Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
// The k largest (or smallest) entries along dim, sorted, and their int64 positions.
// Ties keep the lower index first. Gradient flows to the values only.
std::pair<Tensor, Tensor> topk(const Tensor& x, int64_t k, int64_t dim = -1, bool largest = true);

}  // namespace mod
