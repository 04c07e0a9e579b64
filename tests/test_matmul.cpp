// matmul against a naive triple loop, transposed operands without copies, broadcast batches;
// grouped_matmul against one product per group.
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "core/cpu/blas.h"
#include "core/matmul.h"
#include "core/reduce.h"
#include "testing.h"

namespace mod {
namespace {

using testing::leaf;
using V = const std::vector<Tensor>&;

// Reference: plain loops in double over any strides.
std::vector<double> naive_matmul(const Tensor& a, const Tensor& b) {
    const int64_t M = a.size(0), K = a.size(1), N = b.size(1);
    std::vector<double> av = a.to_vector<double>(), bv = b.to_vector<double>(), c(M * N, 0.0);
    for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j)
            for (int64_t k = 0; k < K; ++k) c[i * N + j] += av[i * K + k] * bv[k * N + j];
    return c;
}

void expect_near(const std::vector<double>& a, const std::vector<double>& b, double tol) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], tol) << "at " << i;
}

TEST(Matmul, MatchesNaiveLoopsForEveryLayout) {
    Tensor a = leaf({37, 53}, 1).detach(), b = leaf({53, 29}, 2).detach();
    std::vector<double> ref = naive_matmul(a, b);
    expect_near(matmul(a, b).to_vector<double>(), ref, 1e-12);
    Tensor at = a.transpose(0, 1).contiguous().transpose(0, 1);  // same values, column-major
    Tensor bt = b.transpose(0, 1).contiguous().transpose(0, 1);
    expect_near(matmul(at, b).to_vector<double>(), ref, 1e-12);
    expect_near(matmul(a, bt).to_vector<double>(), ref, 1e-12);
    expect_near(matmul(at, bt).to_vector<double>(), ref, 1e-12);
    // A narrowed operand: row stride larger than its width.
    Tensor wide = leaf({37, 60}, 3).detach();
    Tensor narrow = wide.narrow(1, 2, 53);
    expect_near(matmul(narrow, b).to_vector<double>(), naive_matmul(narrow.contiguous(), b), 1e-12);
    // float32: within accumulated rounding of K=53 products.
    expect_near(matmul(a.to(DType::F32), b.to(DType::F32)).to_vector<double>(), ref, 1e-4);
}

// Large enough that the GEMM backend threads it and packs several panels.
TEST(Matmul, LargeProductsMatchNaiveLoops) {
    Tensor a = leaf({300, 700}, 5).detach(), b = leaf({700, 260}, 6).detach();
    std::vector<double> ref = naive_matmul(a, b);
    expect_near(matmul(a, b).to_vector<double>(), ref, 1e-10);
    expect_near(matmul(a.to(DType::F32), b.to(DType::F32)).to_vector<double>(), ref, 1e-3);
    Tensor at = a.transpose(0, 1).contiguous().transpose(0, 1);
    expect_near(matmul(at.to(DType::F32), b.to(DType::F32)).to_vector<double>(), ref, 1e-3);
}

// OpenBLAS's OpenMP build runs the products wherever it is installed (CI installs it), unless
// MOD_BLAS=eigen: a machine that has it must not fall back to Eigen silently.
TEST(Matmul, GemmBackendIsOpenBlasWhereInstalled) {
    const char* choice = std::getenv("MOD_BLAS");
    const bool eigen_asked = choice && std::strcmp(choice, "eigen") == 0;
    const bool installed = std::filesystem::exists("/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0");
    const std::string name = cpu::gemm_backend_name();
    if (eigen_asked || !installed) {
        EXPECT_EQ(name, "Eigen");
    } else {
        EXPECT_NE(name.find("OpenBLAS"), std::string::npos) << name;
        // The kernel trap: on an AVX-512 CPU the AVX-512 kernels run, whatever core an
        // inherited OPENBLAS_CORETYPE names (this machine's image may say Haswell).
        const char* forced = std::getenv("MOD_BLAS_CORETYPE");
        if (__builtin_cpu_supports("avx512f") && !(forced && *forced)) {
            const char* inherited = std::getenv("OPENBLAS_CORETYPE");
            const std::string core = cpu::openblas_coretype(nullptr, inherited, true);
            EXPECT_NE(name.find("(" + (core.empty() ? std::string(inherited) : core) + " kernels"), std::string::npos)
                << name;
        }
    }
}

TEST(Matmul, OpenBlasCoretypeSetsAsidePreAvx512Cores) {
    EXPECT_EQ(cpu::openblas_coretype(nullptr, nullptr, true), "SkylakeX");
    EXPECT_EQ(cpu::openblas_coretype(nullptr, "Haswell", true), "SkylakeX");
    EXPECT_EQ(cpu::openblas_coretype(nullptr, "ZEN", true), "SkylakeX");
    EXPECT_EQ(cpu::openblas_coretype(nullptr, "cooperlake", true), "");  // an AVX-512 core is kept
    EXPECT_EQ(cpu::openblas_coretype(nullptr, "SkylakeX", true), "");
    EXPECT_EQ(cpu::openblas_coretype(nullptr, "Haswell", false), "");  // without AVX-512: as set
    EXPECT_EQ(cpu::openblas_coretype(nullptr, nullptr, false), "");
    EXPECT_EQ(cpu::openblas_coretype("Haswell", "SkylakeX", true), "Haswell");  // MOD_BLAS_CORETYPE wins
    EXPECT_EQ(cpu::openblas_coretype("", "Haswell", true), "SkylakeX");
}

TEST(Matmul, BatchedAndBroadcast) {
    Tensor a = leaf({2, 1, 4, 3}, 1).detach(), b = leaf({3, 3, 5}, 2).detach();
    Tensor c = matmul(a, b);
    EXPECT_EQ(c.shape(), (Shape{2, 3, 4, 5}));
    for (int64_t i = 0; i < 2; ++i)
        for (int64_t j = 0; j < 3; ++j)
            expect_near(c.select(0, i).select(0, j).to_vector<double>(),
                        naive_matmul(a.select(0, i).select(0, 0), b.select(0, j)), 1e-12);
    Tensor x = leaf({2, 7, 3}, 3).detach(), w = leaf({3, 4}, 4).detach();
    Tensor y = matmul(x, w);
    EXPECT_EQ(y.shape(), (Shape{2, 7, 4}));
    expect_near(y.select(0, 1).to_vector<double>(), naive_matmul(x.select(0, 1), w), 1e-12);
}

TEST(Matmul, Gradients) {
    EXPECT_GRADCHECK([](V x) { return matmul(x[0], x[1]); }, {leaf({3, 4}, 1), leaf({4, 2}, 2)});
    EXPECT_GRADCHECK([](V x) { return matmul(x[0], x[1]); },
                     {testing::transposed_leaf({3, 4}, 3), testing::transposed_leaf({4, 2}, 4)});
    EXPECT_GRADCHECK([](V x) { return matmul(x[0], x[1]); }, {leaf({2, 1, 3, 4}, 5), leaf({3, 4, 2}, 6)});
    EXPECT_GRADCHECK([](V x) { return matmul(x[0], x[1]); }, {leaf({2, 3, 4}, 7), leaf({4, 5}, 8)});
    EXPECT_GRADCHECK([](V x) { return matmul(x[0], x[1].transpose(0, 1)); }, {leaf({2, 3, 4}, 9), leaf({5, 4}, 10)});
}

TEST(Matmul, ShapeAndDtypeErrors) {
    try {
        matmul(Tensor::zeros({2, 3}), Tensor::zeros({4, 5}));
        FAIL();
    } catch (const ShapeError& e) {
        EXPECT_STREQ(e.what(), "[matmul] a.shape[-1] == b.shape[-2] expected, got (2,3) and (4,5)");
    }
    EXPECT_THROW(matmul(Tensor::zeros({3}), Tensor::zeros({3, 2})), ShapeError);
    EXPECT_THROW(matmul(Tensor::zeros({2, 3, 4}), Tensor::zeros({3, 4, 2})), ShapeError);
    EXPECT_THROW(matmul(Tensor::zeros({2, 3}), Tensor::zeros({3, 2}, DType::F64)), DTypeError);
    // bfloat16 products are the GPU's: on the CPU they are a clear error, not a slow path.
    EXPECT_THROW(matmul(Tensor::zeros({2, 3}, DType::BF16), Tensor::zeros({3, 2}, DType::BF16)), DTypeError);
    EXPECT_THROW(matmul_bf16(Tensor::zeros({2, 3}), Tensor::zeros({3, 2})), DeviceError);
}

// grouped_matmul equals one plain product per group, including an empty group.
TEST(GroupedMatmul, EqualsOneProductPerGroup) {
    Tensor x = leaf({9, 4}, 1).detach();
    std::vector<Tensor> w{leaf({4, 3}, 2).detach(), leaf({4, 3}, 3).detach(), leaf({3, 4}, 4).detach().transpose(0, 1)};
    const std::vector<int64_t> sizes{5, 0, 4};
    Tensor y = grouped_matmul(x, w, sizes);
    ASSERT_EQ(y.shape(), (Shape{9, 3}));
    const std::vector<double> got = y.to_vector<double>();
    int64_t row = 0;
    for (size_t g = 0; g < w.size(); ++g) {
        if (sizes[g] == 0) continue;
        const std::vector<double> want = naive_matmul(x.narrow(0, row, sizes[g]), w[g]);
        for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[row * 3 + i], want[i], 1e-12) << "group " << g;
        row += sizes[g];
    }
}

TEST(GroupedMatmul, Gradients) {
    // Three groups (one empty, one a transposed weight view): gradients of x and of every weight.
    EXPECT_GRADCHECK([](V x) { return grouped_matmul(x[0], {x[1], x[2], x[3].transpose(0, 1)}, {3, 0, 2}); },
                     {leaf({5, 4}, 1), leaf({4, 3}, 2), leaf({4, 3}, 3), leaf({3, 4}, 4)});
    // Every weight transposed (the experts' W^T): computed in that layout, same gradients.
    EXPECT_GRADCHECK(
        [](V x) {
            return grouped_matmul(x[0], {x[1].transpose(0, 1), x[2].transpose(0, 1), x[3].transpose(0, 1)}, {3, 0, 2});
        },
        {leaf({5, 4}, 5), leaf({3, 4}, 6), leaf({3, 4}, 7), leaf({3, 4}, 8)});
    Tensor w = leaf({3, 4}, 9);
    grouped_matmul(leaf({2, 4}, 10), {w.transpose(0, 1)}, {2}).backward(Tensor::ones({2, 3}, DType::F64));
    EXPECT_TRUE(w.grad().is_contiguous());
}

TEST(GroupedMatmul, Errors) {
    Tensor x = Tensor::zeros({4, 3});
    EXPECT_THROW(grouped_matmul(x, {Tensor::zeros({3, 2})}, {3}), ShapeError);  // sizes sum to 3, not 4
    EXPECT_THROW(grouped_matmul(x, {Tensor::zeros({3, 2}), Tensor::zeros({2, 2})}, {2, 2}), ShapeError);
    EXPECT_THROW(grouped_matmul(x, {Tensor::zeros({3, 2})}, {2, 2}), ValueError);  // one size per weight
    EXPECT_THROW(grouped_matmul(x, {Tensor::zeros({3, 2}, DType::F64)}, {4}), DTypeError);
}

}  // namespace
}  // namespace mod
