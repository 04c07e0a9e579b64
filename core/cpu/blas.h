// OpenBLAS behind cpu::gemm, loaded at run time when the machine has its OpenMP build.
//
// Why at run time: OpenBLAS picks its kernel from the CPU when the library loads, and
// Debian's 0.3.21 does not recognise recent AVX-512 CPUs, falling back to a kernel about a
// third slower. OPENBLAS_CORETYPE fixes that, but only if it is set before the library
// loads, which a linked library does before main(). Loaded here, after setting it, the
// right kernel runs without the user knowing the variable exists. Machine images also set
// OPENBLAS_CORETYPE=Haswell for CPUs that OpenBLAS does not know, which on an AVX-512 CPU
// halves the speed of every product: such a pre-AVX-512 core is set aside (see
// openblas_coretype), and the description says so.
//
// Why the OpenMP build only: it runs on the same OpenMP threads as the rest of the engine,
// sized by omp_get_max_threads() at each call and single-threaded inside a parallel region.
// The pthreads build keeps its own spinning threads beside ours (the oversubscription trap).
//
// MOD_BLAS=eigen in the environment keeps every product on Eigen (the tests run both);
// MOD_BLAS_CORETYPE=<core> loads OpenBLAS with that kernel, whatever the CPU and
// OPENBLAS_CORETYPE say.
#pragma once

#include <string>

namespace mod::cpu {

struct BlasLibrary {
    // cblas_sgemm and cblas_dgemm, row-major; int is OpenBLAS's 32-bit blasint.
    using Sgemm = void (*)(int order, int trans_a, int trans_b, int M, int N, int K, float alpha, const float* A,
                           int lda, const float* B, int ldb, float beta, float* C, int ldc);
    using Dgemm = void (*)(int order, int trans_a, int trans_b, int M, int N, int K, double alpha, const double* A,
                           int lda, const double* B, int ldb, double beta, double* C, int ldc);
    Sgemm sgemm = nullptr;
    Dgemm dgemm = nullptr;
    std::string description;  // openblas_get_config(), then "(<core> kernels)"

    static constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;  // the CBLAS enum values
};

// The OPENBLAS_CORETYPE to load the library with, or "" to leave the environment as it is:
// `forced` (MOD_BLAS_CORETYPE) when given; else, on a CPU with AVX-512, SkylakeX (OpenBLAS's
// AVX-512 kernels) unless `inherited` (OPENBLAS_CORETYPE) already names an AVX-512 core.
std::string openblas_coretype(const char* forced, const char* inherited, bool cpu_has_avx512);

// The loaded library, or nullptr (not installed, or MOD_BLAS=eigen). Loaded on first call.
const BlasLibrary* blas_library();

// What runs the products, for benchmarks and logs: the description above, or "Eigen".
std::string gemm_backend_name();

}  // namespace mod::cpu
