// matmul_bench: GFLOP/s of float32 products C = A B on all cores, through the engine's
// matmul, through Eigen used directly and through OpenBLAS's sgemm called directly (the
// library the engine loaded, core/cpu/blas.h), measured in one run. Square sizes 512, 1024
// and 2048, then the products of one `small`-config training step (batch 8 x 128 tokens) and
// of one quickstart teacher step (batch 16 x about 64 tokens: thin products that the engine
// splits into one single-threaded product per thread, core/cpu/matmul.cpp).
// Each figure is the median of repeated products after a warm-up.
#include <omp.h>

#include <Eigen/Core>
#include <algorithm>
#include <cstdio>
#include <vector>

#include "bench/timing.h"
#include "core/cpu/blas.h"
#include "core/matmul.h"
#include "core/random.h"

namespace {

struct Case {
    const char* name;
    int64_t M, K, N;
};

void run(const Case& c) {
    using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    mod::Generator gen(1);
    const mod::Tensor a = mod::randn({c.M, c.K}, gen), b = mod::randn({c.K, c.N}, gen);
    const double flops = 2.0 * c.M * c.K * c.N;
    const int reps = std::max(7, static_cast<int>(2.4e11 / flops));  // about a second per case

    const double t_engine = mod::bench::median_seconds([&] { mod::matmul(a, b); }, reps);
    Eigen::Map<const RowMat> ea(a.data<float>(), c.M, c.K), eb(b.data<float>(), c.K, c.N);
    RowMat ec(c.M, c.N);
    const double t_eigen = mod::bench::median_seconds([&] { ec.noalias() = ea * eb; }, reps);
    double t_blas = 0.0;
    if (const mod::cpu::BlasLibrary* lib = mod::cpu::blas_library()) {
        std::vector<float> out(static_cast<size_t>(c.M * c.N));
        using L = mod::cpu::BlasLibrary;
        t_blas = mod::bench::median_seconds(
            [&] {
                lib->sgemm(L::kRowMajor, L::kNoTrans, L::kNoTrans, static_cast<int>(c.M), static_cast<int>(c.N),
                           static_cast<int>(c.K), 1.0f, a.data<float>(), static_cast<int>(c.K), b.data<float>(),
                           static_cast<int>(c.N), 0.0f, out.data(), static_cast<int>(c.N));
            },
            reps);
    }
    const double best = std::min(t_eigen, t_blas > 0 ? t_blas : t_eigen);
    std::printf("%-22s %5lld %5lld %5lld %12.1f %12.1f %12.1f %11.0f%%\n", c.name, static_cast<long long>(c.M),
                static_cast<long long>(c.K), static_cast<long long>(c.N), flops / t_engine / 1e9,
                flops / t_eigen / 1e9, t_blas > 0 ? flops / t_blas / 1e9 : 0.0, 100.0 * best / t_engine);
}

}  // namespace

int main() {
    std::printf("threads: %d\nengine GEMM: %s\n", omp_get_max_threads(), mod::cpu::gemm_backend_name().c_str());
    std::printf("%-22s %5s %5s %5s %12s %12s %12s %12s\n", "product", "M", "K", "N", "engine GF/s", "Eigen GF/s",
                "OpenBLAS GF/s", "engine/best");
    const Case cases[] = {
        {"square", 512, 512, 512},
        {"square", 1024, 1024, 1024},
        {"square", 2048, 2048, 2048},
        {"small: qkv/o proj", 1024, 512, 512},
        {"small: MLP up", 1024, 512, 1408},
        {"small: MLP down", 1024, 1408, 512},
        {"small: LM head", 1024, 512, 8192},
        {"small: expert up", 512, 512, 1408},
        {"quickstart: qkv proj", 1024, 160, 224},
        {"quickstart: MLP up", 1024, 160, 384},
        {"quickstart: MLP down", 1024, 384, 160},
        {"quickstart: MLP weight grad", 160, 1024, 384},
    };
    for (const Case& c : cases) run(c);
    return 0;
}
