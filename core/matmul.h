// Matrix products. a (..., M, K) @ b (..., K, N) -> (..., M, N), batch dims broadcast.
// Operands whose last two dims are transposed views are used in place, without a copy.
#pragma once

#include <vector>

#include "core/tensor.h"

namespace mod {

Tensor matmul(const Tensor& a, const Tensor& b);

// a @ b for float32 operands on the GPU's bfloat16 tensor cores: both operands are rounded
// to bfloat16, products accumulate in float32 and the result is float32, with no separate
// cast of the output. Backward runs the same way on the gradient rounded to bfloat16:
// dA = g B^T, dB = A^T g, each returned in float32. The mixed-precision product of
// nn::Linear under bf16 compute; CUDA only. Shapes and broadcasting as matmul.
Tensor matmul_bf16(const Tensor& a, const Tensor& b);

// The products of a mixture-of-experts layer in one call: x (M, K) holds G groups of
// consecutive rows, sizes[g] rows in group g (summing to M), and the rows of group g are
// multiplied by w[g] (K, N): out (M, N) = [x_0 w_0; x_1 w_1; ...]. Groups may be empty.
// On CUDA it is one grouped cuBLAS launch for all groups. Backward:
// dx_g = dy_g w_g^T, dw_g = x_g^T dy_g (zero for an empty group).
Tensor grouped_matmul(const Tensor& x, const std::vector<Tensor>& w, const std::vector<int64_t>& sizes);

}  // namespace mod
