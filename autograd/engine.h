// The backward engine: runs the nodes reachable from a root in topological order,
// summing gradients where paths meet, and frees each node's saved tensors after use
// unless the graph is retained.
#pragma once

#include "core/tensor.h"

namespace mod {

// grad_root may be undefined only for a one-element root (it is then 1).
void run_backward(const Tensor& root, const Tensor& grad_root, bool retain_graph);

}  // namespace mod
