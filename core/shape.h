// Shapes and strides: row-major, PyTorch dimension order, negative dims count from the end.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mod {

using Shape = std::vector<int64_t>;
using Strides = std::vector<int64_t>;

int64_t shape_numel(const Shape& shape);
Strides contiguous_strides(const Shape& shape);
// "(2,3)"; a scalar prints as "()".
std::string shape_str(const Shape& shape);
// Maps dim in [-ndim, ndim) to [0, ndim); throws ValueError naming op otherwise.
int64_t normalize_dim(int64_t dim, int64_t ndim, const char* op);
// NumPy broadcasting of two shapes; throws ShapeError naming op and both shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
// Strides that read a tensor of (shape, strides) as if it had shape `to` (0 on broadcast dims).
// `shape` must broadcast to `to`.
Strides broadcast_strides(const Shape& shape, const Strides& strides, const Shape& to);

}  // namespace mod
