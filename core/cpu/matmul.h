// CPU matrix products: OpenBLAS when loaded (core/cpu/blas.h), else Eigen GEMM (packed, cache-blocked, OpenMP-parallel).
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace mod::cpu {

// C (M,N) = alpha * op(A) op(B) + beta * C, row-major with leading dims lda, ldb, ldc;
// op(X) = X or X^T (trans_*). beta is 0 or 1. Called from inside a parallel region it runs
// on the calling thread only.
template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
          const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

// Batched product with broadcast batch dims (shapes already checked by the caller).
Tensor matmul(const Tensor& a, const Tensor& b);

// Grouped products (core/matmul.h): out rows of group g = x_g w[g]; x contiguous (M, K).
Tensor grouped_matmul(const Tensor& x, const std::vector<Tensor>& w, const std::vector<int64_t>& sizes);
// The weight gradients of grouped_matmul: dw[g] (K, N) = x_g^T dy_g; x (M, K), dy (M, N) contiguous.
std::vector<Tensor> grouped_matmul_weight_grads(const Tensor& x, const Tensor& dy, const std::vector<int64_t>& sizes);

}  // namespace mod::cpu
