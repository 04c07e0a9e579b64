// Matrix products on the GPU through cuBLAS.
//
// Our tensors are row-major and cuBLAS is column-major. A row-major (M, N) matrix read as
// column-major is its transpose, so C = A B is computed as C^T = B^T A^T: cuBLAS gets B
// first, then A, with m = N and n = M, and writes C^T column-major = C row-major. An
// operand that is a transposed view (unit stride along its rows) is passed with op T
// instead of being copied.
//
// Batches go to one strided-batched call when each operand's batch dims flatten to a single
// stride (0 for a broadcast operand); otherwise the operand is first made contiguous.
#include <atomic>
#include <optional>

#include "cuda/device_utils.cuh"
#include "cuda/matmul.h"

namespace mod::cuda {

namespace {

std::atomic<bool> tf32_allowed{false};

struct MatrixLayout {
    bool transposed;  // unit stride along rows: a transposed view of a row-major matrix
    int64_t ld;       // leading dimension in elements
};

// The layout of t's last two dims when cuBLAS can read it in place (see core/cpu/matmul.cpp).
std::optional<MatrixLayout> gemm_layout(const Tensor& t) {
    const int64_t r = t.shape()[t.dim() - 2], c = t.shape()[t.dim() - 1];
    const int64_t sr = t.strides()[t.dim() - 2], sc = t.strides()[t.dim() - 1];
    if ((sc == 1 || c == 1) && (sr >= std::max<int64_t>(c, 1) || r == 1)) return MatrixLayout{false, r == 1 ? std::max<int64_t>(c, 1) : sr};
    if ((sr == 1 || r == 1) && (sc >= std::max<int64_t>(r, 1) || c == 1)) return MatrixLayout{true, c == 1 ? std::max<int64_t>(r, 1) : sc};
    return std::nullopt;
}

// The one stride that steps through t's batch dims (broadcast to `batch`) in row-major
// order, if there is one.
std::optional<int64_t> batch_stride(const Tensor& t, const Shape& batch) {
    const Shape own(t.shape().begin(), t.shape().end() - 2);
    const Strides s = broadcast_strides(own, Strides(t.strides().begin(), t.strides().end() - 2), batch);
    std::optional<int64_t> stride;
    int64_t expected = 0;  // the stride the next-outer dim must have to continue the sequence
    for (int64_t d = static_cast<int64_t>(batch.size()) - 1; d >= 0; --d) {
        if (batch[d] == 1) continue;
        if (!stride) {
            stride = s[d];
        } else if (s[d] != expected) {
            return std::nullopt;
        }
        expected = s[d] * batch[d];
    }
    return stride.value_or(0);
}

// Makes t readable by one strided-batched call over `batch`.
Tensor batched_operand(const Tensor& t, const Shape& batch) {
    if (gemm_layout(t) && batch_stride(t, batch)) return t;
    Shape full = batch;
    full.push_back(t.size(-2));
    full.push_back(t.size(-1));
    return t.expand(full).contiguous();
}

struct CublasTypes {
    cudaDataType_t data;
    cublasComputeType_t compute;
};

CublasTypes cublas_types(DType dt) {
    switch (dt) {
        case DType::F32:
            return {CUDA_R_32F, tf32_allowed ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F};
        case DType::F64: return {CUDA_R_64F, CUBLAS_COMPUTE_64F};
        case DType::BF16: return {CUDA_R_16BF, CUBLAS_COMPUTE_32F};  // bf16 inputs, float32 accumulation
        default: break;
    }
    throw DTypeError(detail::format_error("matmul", "float32, float64 or bfloat16 expected, got ", dtype_name(dt)));
}

}  // namespace

void set_allow_tf32(bool allow) { tf32_allowed = allow; }
bool allow_tf32() { return tf32_allowed; }

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
    const int64_t M = a_in.size(-2), K = a_in.size(-1), N = b_in.size(-1);
    const Shape batch = broadcast_shapes(Shape(a_in.shape().begin(), a_in.shape().end() - 2),
                                         Shape(b_in.shape().begin(), b_in.shape().end() - 2), "matmul");
    const Tensor a = batched_operand(a_in, batch), b = batched_operand(b_in, batch);
    Shape out_shape = batch;
    out_shape.push_back(M);
    out_shape.push_back(N);
    const int dev = a.device().index;
    DeviceGuard guard(dev);
    Tensor out = Tensor::empty(out_shape, a.dtype(), a.device());
    const int64_t batches = shape_numel(batch);
    if (out.numel() == 0) return out;
    if (K == 0) {
        MOD_CUDA_CHECK("matmul", cudaMemsetAsync(out.raw_data(), 0, out.numel() * dtype_size(out.dtype()), stream(dev)));
        return out;
    }
    const MatrixLayout la = *gemm_layout(a), lb = *gemm_layout(b);
    const int64_t stride_a = *batch_stride(a, batch), stride_b = *batch_stride(b, batch);
    const CublasTypes types = cublas_types(a.dtype());
    // alpha and beta have the compute type: double for float64, float otherwise.
    const double one_d = 1.0, zero_d = 0.0;
    const float one_f = 1.0f, zero_f = 0.0f;
    const bool f64 = a.dtype() == DType::F64;
    const void* alpha = f64 ? static_cast<const void*>(&one_d) : &one_f;
    const void* beta = f64 ? static_cast<const void*>(&zero_d) : &zero_f;
    MOD_CUDA_CHECK("matmul", cublasGemmStridedBatchedEx(
        cublas(dev), lb.transposed ? CUBLAS_OP_T : CUBLAS_OP_N, la.transposed ? CUBLAS_OP_T : CUBLAS_OP_N,
        static_cast<int>(N), static_cast<int>(M), static_cast<int>(K), alpha,
        b.raw_data(), types.data, static_cast<int>(lb.ld), stride_b,
        a.raw_data(), types.data, static_cast<int>(la.ld), stride_a, beta,
        out.raw_data(), types.data, static_cast<int>(N), M * N, static_cast<int>(batches), types.compute,
        CUBLAS_GEMM_DEFAULT));
    return out;
}

}  // namespace mod::cuda
