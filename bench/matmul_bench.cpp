// matmul_bench: GFLOP/s of float32 square products C = A B (N = 512, 1024, 2048) on all
// cores, through the engine's matmul, through Eigen used directly, and through OpenBLAS's
// sgemm, measured in one run. Each figure is the median of repeated products after a warm-up.
//
// OpenBLAS picks its kernel by CPU detection; Debian's 0.3.21 does not recognise these
// AVX-512 CPUs and falls back to a slower kernel unless OPENBLAS_CORETYPE names one. When
// it is unset on an AVX-512 machine the bench sets it to SkylakeX and re-executes itself
// (the variable is read when the library loads), and prints which kernel ran.
#include <omp.h>
#include <unistd.h>

#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

#include "bench/timing.h"
#include "core/matmul.h"
#include "core/random.h"

#ifdef MOD_BENCH_OPENBLAS
#include <cblas.h>
extern "C" char* openblas_get_corename(void);
#endif

int main(int argc, char** argv) {
#ifdef MOD_BENCH_OPENBLAS
    if (!std::getenv("OPENBLAS_CORETYPE") && __builtin_cpu_supports("avx512f")) {
        setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
        execv("/proc/self/exe", argv);  // on failure, go on with the detected kernel
    }
#endif
    (void)argc;
    const int threads = omp_get_max_threads();
    std::printf("threads: %d\n", threads);
#ifdef MOD_BENCH_OPENBLAS
    openblas_set_num_threads(threads);
    std::printf("OpenBLAS kernel: %s (OPENBLAS_CORETYPE=%s)\n", openblas_get_corename(),
                std::getenv("OPENBLAS_CORETYPE") ? std::getenv("OPENBLAS_CORETYPE") : "unset");
#endif
    std::printf("%6s %14s %14s %14s %10s\n", "N", "engine GF/s", "Eigen GF/s", "OpenBLAS GF/s", "engine/best");
    for (int64_t n : {512, 1024, 2048}) {
        mod::Generator gen(1);
        mod::Tensor a = mod::randn({n, n}, gen), b = mod::randn({n, n}, gen);
        const double flops = 2.0 * n * n * n;
        const int reps = std::max(7, static_cast<int>(2.4e11 / flops));  // about a second per size

        const double t_engine = mod::bench::median_seconds([&] { mod::matmul(a, b); }, reps);

        using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
        Eigen::Map<const RowMat> ea(a.data<float>(), n, n), eb(b.data<float>(), n, n);
        RowMat ec(n, n);
        const double t_eigen = mod::bench::median_seconds([&] { ec.noalias() = ea * eb; }, reps);

        double t_blas = 0.0;
#ifdef MOD_BENCH_OPENBLAS
        std::vector<float> c(n * n);
        t_blas = mod::bench::median_seconds(
            [&] {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data<float>(), n,
                            b.data<float>(), n, 0.0f, c.data(), n);
            },
            reps);
#endif
        const double best = std::min(t_eigen, t_blas > 0 ? t_blas : t_eigen);
        std::printf("%6lld %14.1f %14.1f %14.1f %9.0f%%\n", static_cast<long long>(n), flops / t_engine / 1e9,
                    flops / t_eigen / 1e9, t_blas > 0 ? flops / t_blas / 1e9 : 0.0, 100.0 * best / t_engine);
    }
    return 0;
}
