// CPU matrix products through Eigen's GEMM (packed, cache-blocked, OpenMP-parallel).
#pragma once

#include <cstdint>

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

}  // namespace mod::cpu
