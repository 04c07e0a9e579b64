// CUDA matrix products through cuBLAS: float32 (TF32 tensor cores only when asked),
// float64, and bfloat16 inputs with float32 accumulation; batches as strided-batched GEMM.
#pragma once

#include <vector>

#include "core/tensor.h"

namespace mod::cuda {

// Batched product with broadcast batch dims (shapes and dtypes checked by the caller); the
// output has the operands' dtype.
Tensor matmul(const Tensor& a, const Tensor& b);

// Two bfloat16 operands, float32 result: the float32 accumulators are written as they are
// (the mixed-precision product of core/matmul.h matmul_bf16).
Tensor matmul_float_out(const Tensor& a, const Tensor& b);

// Grouped products of a mixture-of-experts layer (core/matmul.h), one cuBLAS launch for all
// groups; x contiguous (M, K), w[g] (K, N) in any GEMM layout.
Tensor grouped_matmul(const Tensor& x, const std::vector<Tensor>& w, const std::vector<int64_t>& sizes);
// dw[g] (K, N) = x_g^T dy_g, zero for an empty group; x (M, K) and dy (M, N) contiguous.
std::vector<Tensor> grouped_matmul_weight_grads(const Tensor& x, const Tensor& dy, const std::vector<int64_t>& sizes);

// Whether float32 products may use TF32 tensor cores (off by default: TF32 keeps only
// 10 mantissa bits). A per-process setting, like cuBLAS's own math mode.
void set_allow_tf32(bool allow);
bool allow_tf32();

}  // namespace mod::cuda
