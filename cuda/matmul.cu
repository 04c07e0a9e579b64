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
// Grouped products (one problem per expert, each its own M, N, K) go to one grouped-batched
// call; its device arrays of matrix pointers are written by a small kernel that receives them
// by value, so the host never waits for a copy.
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

// One row-major product C (M, N) = op(A) op(B), op(X) = X^T when X is a transposed view.
struct GemmProblem {
    bool trans_a, trans_b;
    int64_t M, N, K;
    const void* A;
    int64_t lda;
    const void* B;
    int64_t ldb;
    void* C;
    int64_t ldc;
};

constexpr int kMaxGroupsPerLaunch = 64;

struct PointerPack {
    const void* a[kMaxGroupsPerLaunch];
    const void* b[kMaxGroupsPerLaunch];
    void* c[kMaxGroupsPerLaunch];
};

__global__ void write_pointers_kernel(PointerPack pack, int n, const void** a, const void** b, void** c) {
    const int i = threadIdx.x;
    if (i < n) {
        a[i] = pack.a[i];
        b[i] = pack.b[i];
        c[i] = pack.c[i];
    }
}

// Runs the problems (none empty) on the device's stream. In cuBLAS's column-major terms
// each is C^T = op(B)^T op(A)^T, as in matmul above.
void run_grouped(const std::vector<GemmProblem>& problems, DType dtype, int dev) {
    const CublasTypes types = cublas_types(dtype);
    if (dtype == DType::F64) {  // the grouped call takes float and half types; float64 is for gradient checks
        const double one = 1.0, zero = 0.0;
        for (const GemmProblem& p : problems)
            MOD_CUDA_CHECK("grouped_matmul", cublasGemmEx(
                cublas(dev), p.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, p.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                static_cast<int>(p.N), static_cast<int>(p.M), static_cast<int>(p.K), &one, p.B, types.data,
                static_cast<int>(p.ldb), p.A, types.data, static_cast<int>(p.lda), &zero, p.C, types.data,
                static_cast<int>(p.ldc), types.compute, CUBLAS_GEMM_DEFAULT));
        return;
    }
    Tensor pointers = Tensor::empty({3 * kMaxGroupsPerLaunch}, DType::I64, Device::cuda(dev));
    void** slots = static_cast<void**>(pointers.raw_data());
    const void** a_dev = const_cast<const void**>(slots);
    const void** b_dev = a_dev + kMaxGroupsPerLaunch;
    void** c_dev = slots + 2 * kMaxGroupsPerLaunch;
    for (size_t first = 0; first < problems.size(); first += kMaxGroupsPerLaunch) {
        const int n = static_cast<int>(std::min<size_t>(kMaxGroupsPerLaunch, problems.size() - first));
        PointerPack pack{};
        std::vector<cublasOperation_t> op_b(n), op_a(n);
        std::vector<int> m(n), nn(n), k(n), ldb(n), lda(n), ldc(n), group_size(n, 1);
        std::vector<float> alpha(n, 1.0f), beta(n, 0.0f);
        for (int i = 0; i < n; ++i) {
            const GemmProblem& p = problems[first + i];
            pack.a[i] = p.B;  // cuBLAS's first operand is our B (see the file comment)
            pack.b[i] = p.A;
            pack.c[i] = p.C;
            op_b[i] = p.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
            op_a[i] = p.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
            m[i] = static_cast<int>(p.N);
            nn[i] = static_cast<int>(p.M);
            k[i] = static_cast<int>(p.K);
            ldb[i] = static_cast<int>(p.ldb);
            lda[i] = static_cast<int>(p.lda);
            ldc[i] = static_cast<int>(p.ldc);
        }
        write_pointers_kernel<<<1, kMaxGroupsPerLaunch, 0, stream(dev)>>>(pack, n, a_dev, b_dev, c_dev);
        check_launch("grouped_matmul");
        MOD_CUDA_CHECK("grouped_matmul", cublasGemmGroupedBatchedEx(
            cublas(dev), op_b.data(), op_a.data(), m.data(), nn.data(), k.data(), alpha.data(), a_dev, types.data,
            ldb.data(), b_dev, types.data, lda.data(), beta.data(), c_dev, types.data, ldc.data(), n,
            group_size.data(), types.compute));
    }
}

}  // namespace

Tensor grouped_matmul(const Tensor& x, const std::vector<Tensor>& w_in, const std::vector<int64_t>& sizes) {
    const int64_t M = x.size(0), K = x.size(1), N = w_in[0].size(1);
    const int dev = x.device().index;
    DeviceGuard guard(dev);
    Tensor out = Tensor::empty({M, N}, x.dtype(), x.device());
    std::vector<Tensor> w(w_in.size());  // kept alive until the launch is queued
    std::vector<GemmProblem> problems;
    const size_t elem = dtype_size(x.dtype());
    int64_t row = 0;
    for (size_t g = 0; g < w_in.size(); ++g) {
        w[g] = gemm_layout(w_in[g]) ? w_in[g] : w_in[g].contiguous();
        const MatrixLayout lw = *gemm_layout(w[g]);
        if (sizes[g] > 0 && N > 0) {
            if (K == 0) {
                MOD_CUDA_CHECK("grouped_matmul", cudaMemsetAsync(static_cast<char*>(out.raw_data()) + row * N * elem, 0,
                                                                 sizes[g] * N * elem, stream(dev)));
            } else {
                problems.push_back({false, lw.transposed, sizes[g], N, K,
                                    static_cast<const char*>(x.raw_data()) + row * K * elem, K, w[g].raw_data(), lw.ld,
                                    static_cast<char*>(out.raw_data()) + row * N * elem, N});
            }
        }
        row += sizes[g];
    }
    if (!problems.empty()) run_grouped(problems, x.dtype(), dev);
    return out;
}

std::vector<Tensor> grouped_matmul_weight_grads(const Tensor& x, const Tensor& dy, const std::vector<int64_t>& sizes) {
    const int64_t K = x.size(1), N = dy.size(1);
    const int dev = x.device().index;
    DeviceGuard guard(dev);
    const size_t elem = dtype_size(x.dtype());
    std::vector<Tensor> dw;
    std::vector<GemmProblem> problems;
    int64_t row = 0;
    for (int64_t m : sizes) {
        Tensor d = Tensor::empty({K, N}, x.dtype(), x.device());
        if (m == 0) {  // no rows: a zero gradient
            MOD_CUDA_CHECK("grouped_matmul", cudaMemsetAsync(d.raw_data(), 0, d.numel() * elem, stream(dev)));
        } else if (K > 0 && N > 0) {  // x_g^T is x_g read column-major: a transposed view with ld K
            problems.push_back({true, false, K, N, m, static_cast<const char*>(x.raw_data()) + row * K * elem, K,
                                static_cast<const char*>(dy.raw_data()) + row * N * elem, N, d.raw_data(), N});
        }
        dw.push_back(d);
        row += m;
    }
    if (!problems.empty()) run_grouped(problems, x.dtype(), dev);
    return dw;
}

void set_allow_tf32(bool allow) { tf32_allowed = allow; }
bool allow_tf32() { return tf32_allowed; }

namespace {

// The batched product with an output dtype of its own: a's dtype, or float32 for bfloat16
// operands (cuBLAS writes the float32 accumulators without rounding them to bfloat16).
Tensor matmul_to(const Tensor& a_in, const Tensor& b_in, DType out_dtype) {
    const int64_t M = a_in.size(-2), K = a_in.size(-1), N = b_in.size(-1);
    const Shape batch = broadcast_shapes(Shape(a_in.shape().begin(), a_in.shape().end() - 2),
                                         Shape(b_in.shape().begin(), b_in.shape().end() - 2), "matmul");
    const Tensor a = batched_operand(a_in, batch), b = batched_operand(b_in, batch);
    Shape out_shape = batch;
    out_shape.push_back(M);
    out_shape.push_back(N);
    const int dev = a.device().index;
    DeviceGuard guard(dev);
    Tensor out = Tensor::empty(out_shape, out_dtype, a.device());
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
        out.raw_data(), cublas_types(out_dtype).data, static_cast<int>(N), M * N, static_cast<int>(batches),
        types.compute, CUBLAS_GEMM_DEFAULT));
    return out;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) { return matmul_to(a, b, a.dtype()); }

Tensor matmul_float_out(const Tensor& a, const Tensor& b) { return matmul_to(a, b, DType::F32); }

}  // namespace mod::cuda
