// CPU matrix products: OpenBLAS where the machine has it (core/cpu/blas.h), otherwise Eigen
// GEMM calls on row-major (or transposed) views; thin products threaded by row blocks, large
// ones by the library itself (see gemm below).
#include "core/cpu/matmul.h"

#include <Eigen/Core>
#include <omp.h>

#include <algorithm>
#include <climits>
#include <optional>
#include <type_traits>

#include "core/cpu/blas.h"

namespace mod::cpu {

namespace {

template <typename T>
using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using ConstMap = Eigen::Map<const RowMat<T>, 0, Eigen::OuterStride<>>;
template <typename T>
using MutMap = Eigen::Map<RowMat<T>, 0, Eigen::OuterStride<>>;

// How the last two dims of a tensor are laid out for GEMM: row-major with leading dim
// `ld`, or column-major (a transposed view) with leading dim `ld`.
struct MatrixLayout {
    bool transposed = false;
    int64_t ld = 0;
};

std::optional<MatrixLayout> gemm_layout(const Tensor& t) {
    const int64_t r = t.shape()[t.dim() - 2], c = t.shape()[t.dim() - 1];
    const int64_t sr = t.strides()[t.dim() - 2], sc = t.strides()[t.dim() - 1];
    if ((sc == 1 || c == 1) && (sr >= std::max<int64_t>(c, 1) || r == 1)) return MatrixLayout{false, r == 1 ? c : sr};
    if ((sr == 1 || r == 1) && (sc >= std::max<int64_t>(r, 1) || c == 1)) return MatrixLayout{true, c == 1 ? r : sc};
    return std::nullopt;
}

// Products this small run one per thread over the batch instead of one threaded GEMM each.
constexpr int64_t kSmallGemmFlops = int64_t(1) << 21;
// From this size in every dim, a product is large enough for Eigen's own parallel GEMM.
constexpr int64_t kEigenParallelMinDim = 512;
// And for OpenBLAS's threads (the small config's 256-wide products gain from them).
constexpr int64_t kBlasWholeMinDim = 256;

// One single-threaded Eigen product on a block of C.
template <typename T>
void gemm_block(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
                const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
    MutMap<T> c(C, M, N, Eigen::OuterStride<>(ldc));
    if (K == 0) {
        if (beta == T(0)) c.setZero();
        return;
    }
    ConstMap<T> a(A, trans_a ? K : M, trans_a ? M : K, Eigen::OuterStride<>(lda));
    ConstMap<T> b(B, trans_b ? N : K, trans_b ? K : N, Eigen::OuterStride<>(ldb));
    auto run = [&](const auto& opa, const auto& opb) {
        if (beta == T(0)) {
            c.noalias() = alpha * (opa * opb);
        } else {
            c.noalias() += alpha * (opa * opb);
        }
    };
    if (!trans_a && !trans_b) run(a, b);
    if (!trans_a && trans_b) run(a, b.transpose());
    if (trans_a && !trans_b) run(a.transpose(), b);
    if (trans_a && trans_b) run(a.transpose(), b.transpose());
}

// The product through OpenBLAS; false when it is not loaded or cannot take these arguments
// (empty dims, leading dims CBLAS rejects, sizes beyond its 32-bit ints). OpenBLAS threads
// the product itself on the OpenMP threads, and runs single-threaded inside a parallel region.
template <typename T>
bool blas_gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
               const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
    const BlasLibrary* lib = blas_library();
    if (!lib || M == 0 || N == 0 || K == 0) return false;
    if (lda < std::max<int64_t>(1, trans_a ? M : K) || ldb < std::max<int64_t>(1, trans_b ? K : N) ||
        ldc < std::max<int64_t>(1, N) || std::max({M, N, K, lda, ldb, ldc}) > INT_MAX)
        return false;
    const int ta = trans_a ? BlasLibrary::kTrans : BlasLibrary::kNoTrans;
    const int tb = trans_b ? BlasLibrary::kTrans : BlasLibrary::kNoTrans;
    const auto gemm_fn = [&] {
        if constexpr (std::is_same_v<T, float>) return lib->sgemm;
        else return lib->dgemm;
    }();
    gemm_fn(BlasLibrary::kRowMajor, ta, tb, static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), alpha, A,
            static_cast<int>(lda), B, static_cast<int>(ldb), beta, C, static_cast<int>(ldc));
    return true;
}

}  // namespace

// Products this small, or with every dim at least kBlasWholeMinDim (OpenBLAS) or
// kEigenParallelMinDim (Eigen), are one call, threaded by the library: OpenBLAS's threads, or
// Eigen's OpenMP GEMM, share the packed panels of B, which beats packing them once per thread
// (measured at 1024 and 2048). Everything else is split by this function into row blocks (or
// column blocks when C is wide), one single-threaded product per thread (both libraries run
// single-threaded inside a parallel region): their threads wait on each other between panels,
// by spinning (Eigen) or sched_yield (OpenBLAS), and for the many thin products of a training
// step on 2 cores that waiting cost more than packing B twice (Eigen: a 6x slower step;
// OpenBLAS: `train_steps` W1 on the quickstart config 0.036-0.046 -> 0.029-0.034 s a step and
// 2.6-3.0 -> 2.2-2.4 CPU-seconds for 30 steps, four runs each, alternated).
template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
          const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
    auto product = [&](int64_t m, int64_t n, const T* a, const T* b, T* c) {
        if (!blas_gemm<T>(trans_a, trans_b, m, n, K, alpha, a, lda, b, ldb, beta, c, ldc))
            gemm_block<T>(trans_a, trans_b, m, n, K, alpha, a, lda, b, ldb, beta, c, ldc);
    };
    const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    const int64_t whole_min_dim = blas_library() ? kBlasWholeMinDim : kEigenParallelMinDim;
    if (threads <= 1 || 2 * M * N * K < kSmallGemmFlops || std::min({M, N, K}) >= whole_min_dim) {
        product(M, N, A, B, C);
        return;
    }
    const bool by_rows = M >= N;
    const int64_t extent = by_rows ? M : N;
    // Blocks are multiples of 16 rows/columns, the width of Eigen's AVX-512 micro-kernel.
    const int64_t chunk = ((extent + threads - 1) / threads + 15) / 16 * 16;
#pragma omp parallel num_threads(threads)
    {
        const int64_t begin = omp_get_thread_num() * chunk, end = std::min(extent, begin + chunk);
        if (begin < end) {
            if (by_rows) {
                product(end - begin, N, trans_a ? A + begin : A + begin * lda, B, C + begin * ldc);
            } else {
                product(M, end - begin, A, trans_b ? B + begin * ldb : B + begin, C + begin);
            }
        }
    }
}

template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*,
                          int64_t, float, float*, int64_t);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t, const double*,
                           int64_t, double, double*, int64_t);

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
    Tensor a = gemm_layout(a_in) ? a_in : a_in.contiguous();
    Tensor b = gemm_layout(b_in) ? b_in : b_in.contiguous();
    const int64_t M = a.shape()[a.dim() - 2], K = a.shape()[a.dim() - 1], N = b.shape()[b.dim() - 1];
    const Shape batch_a(a.shape().begin(), a.shape().end() - 2), batch_b(b.shape().begin(), b.shape().end() - 2);
    const Shape batch = broadcast_shapes(batch_a, batch_b, "matmul");
    const Strides sa = broadcast_strides(batch_a, Strides(a.strides().begin(), a.strides().end() - 2), batch);
    const Strides sb = broadcast_strides(batch_b, Strides(b.strides().begin(), b.strides().end() - 2), batch);
    Shape out_shape = batch;
    out_shape.push_back(M);
    out_shape.push_back(N);
    Tensor out = Tensor::empty(out_shape, a.dtype());
    const MatrixLayout la = *gemm_layout(a), lb = *gemm_layout(b);
    const int64_t batches = shape_numel(batch);

    dispatch_float(a.dtype(), "matmul", [&](auto z) {
        using T = decltype(z);
        const T* ap = a.data<T>();
        const T* bp = b.data<T>();
        T* op = out.data<T>();
        auto one = [&](int64_t i) {
            int64_t oa = 0, ob = 0, rem = i;
            for (int64_t d = static_cast<int64_t>(batch.size()) - 1; d >= 0; --d) {
                const int64_t idx = rem % batch[d];
                rem /= batch[d];
                oa += idx * sa[d];
                ob += idx * sb[d];
            }
            gemm<T>(la.transposed, lb.transposed, M, N, K, T(1), ap + oa, la.ld, bp + ob, lb.ld, T(0),
                    op + i * M * N, N);
        };
        if (batches > 1 && 2 * M * N * K < kSmallGemmFlops) {
#pragma omp parallel for schedule(dynamic, 1)
            for (int64_t i = 0; i < batches; ++i) one(i);
        } else {
            for (int64_t i = 0; i < batches; ++i) one(i);
        }
    });
    return out;
}

Tensor grouped_matmul(const Tensor& x, const std::vector<Tensor>& w_in, const std::vector<int64_t>& sizes) {
    const int64_t M = x.size(0), K = x.size(1), N = w_in[0].size(1);
    Tensor out = Tensor::empty({M, N}, x.dtype());
    dispatch_float(x.dtype(), "grouped_matmul", [&](auto z) {
        using T = decltype(z);
        int64_t row = 0;
        for (size_t g = 0; g < w_in.size(); ++g) {
            const Tensor w = gemm_layout(w_in[g]) ? w_in[g] : w_in[g].contiguous();
            const MatrixLayout lw = *gemm_layout(w);
            if (sizes[g] > 0)
                gemm<T>(false, lw.transposed, sizes[g], N, K, T(1), x.data<T>() + row * K, K, w.data<T>(), lw.ld, T(0),
                        out.data<T>() + row * N, N);
            row += sizes[g];
        }
    });
    return out;
}

std::vector<Tensor> grouped_matmul_weight_grads(const Tensor& x, const Tensor& dy, const std::vector<int64_t>& sizes) {
    const int64_t K = x.size(1), N = dy.size(1);
    std::vector<Tensor> dw;
    dispatch_float(x.dtype(), "grouped_matmul", [&](auto z) {
        using T = decltype(z);
        int64_t row = 0;
        for (int64_t m : sizes) {
            if (m == 0) {  // no rows: a zero gradient
                dw.push_back(Tensor::zeros({K, N}, x.dtype()));
                continue;
            }
            // Written whole by the product. x_g^T is x_g read column-major: trans_a with ld K.
            Tensor d = Tensor::empty({K, N}, x.dtype());
            gemm<T>(true, false, K, N, m, T(1), x.data<T>() + row * K, K, dy.data<T>() + row * N, N, T(0), d.data<T>(),
                    N);
            dw.push_back(d);
            row += m;
        }
    });
    return dw;
}

}  // namespace mod::cpu
