// CUDA-vs-CPU parity of the reductions (cuda/reduce.cu against core/cpu/reduce.cpp) and of
// softmax / log_softmax (cuda/softmax.cu against core/cpu/softmax.cpp), through the public
// ops: sum, mean, max, argmax and logsumexp over various dims, softmax and log_softmax on
// dims 0 and -1, forward and gradients, in float32 and float64, on contiguous and
// transposed inputs, long rows, many rows, ties, NaNs, -inf and empty reductions.
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "core/elementwise.h"
#include "core/reduce.h"
#include "core/softmax.h"
#include "cuda_testing.h"

namespace mod {
namespace {

using testing::gpu;
using testing::randn_cpu;
using testing::tolerance_for;
using testing::Fn;
using testing::leaves;
using testing::Leaves;

const DType kFloatDTypes[] = {DType::F32, DType::F64};
constexpr double kInf = std::numeric_limits<double>::infinity();

// Parity for one input.
void expect_parity(const Fn& fn, const Leaves& input, uint64_t seed) { testing::expect_parity(fn, {input}, seed); }

std::string dims_str(const std::vector<int64_t>& dims, bool keepdim) {
    return "dims " + shape_str(dims) + (keepdim ? " keepdim" : "");
}

TEST(CudaReduce, SumAndMeanOverDims) {
    MOD_REQUIRE_GPU();
    const std::vector<std::vector<int64_t>> dim_sets = {{}, {0}, {1}, {-1}, {0, 2}, {2, 0}, {0, 1, 2}};
    for (DType dt : kFloatDTypes) {
        for (const auto& dims : dim_sets) {
            for (bool keepdim : {false, true}) {
                SCOPED_TRACE(dims_str(dims, keepdim) + " " + dtype_name(dt));
                const Fn sum_fn = [&](const std::vector<Tensor>& x) { return sum(x[0], dims, keepdim); };
                const Fn mean_fn = [&](const std::vector<Tensor>& x) { return mean(x[0], dims, keepdim); };
                expect_parity(sum_fn, leaves(randn_cpu({4, 5, 6}, 1, dt)), 2);
                expect_parity(sum_fn, leaves(randn_cpu({4, 5, 6}, 3, dt), true), 4);
                expect_parity(mean_fn, leaves(randn_cpu({4, 5, 6}, 5, dt), true), 6);
            }
        }
    }
}

TEST(CudaReduce, MaxOverDims) {
    MOD_REQUIRE_GPU();
    const std::vector<std::vector<int64_t>> dim_sets = {{}, {0}, {-1}, {0, 2}};
    for (DType dt : kFloatDTypes) {
        for (const auto& dims : dim_sets) {
            for (bool keepdim : {false, true}) {
                SCOPED_TRACE(dims_str(dims, keepdim) + " " + dtype_name(dt));
                const Fn fn = [&](const std::vector<Tensor>& x) { return max(x[0], dims, keepdim); };
                expect_parity(fn, leaves(randn_cpu({4, 5, 6}, 1, dt)), 2);
                expect_parity(fn, leaves(randn_cpu({4, 5, 6}, 3, dt), true), 4);
            }
        }
        Tensor x = randn_cpu({3, 7, 9}, 5, dt);
        for (int64_t dim : {0, 1, -1}) {
            SCOPED_TRACE("argmax dim " + std::to_string(dim));
            EXPECT_EQ(argmax(x.to(gpu()), dim).to(Device::cpu()).to_vector<int64_t>(),
                      argmax(x, dim).to_vector<int64_t>());
        }
    }
}

// Rows of 1000 (many elements per thread): ties go to the first maximum, a NaN beats every
// number (the first NaN wins), an all--inf row has its maximum at 0.
TEST(CudaReduce, MaxPicksTheFirstMaximum) {
    MOD_REQUIRE_GPU();
    const int64_t R = 1000;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    std::vector<double> v(4 * R, 0.0);
    for (int64_t i = 0; i < R; ++i) v[i] = 1.0;  // row 0: all equal
    v[R + 300] = v[R + 700] = 5.0;               // row 1: a tie across threads
    v[2 * R + 10] = 9.0;                         // row 2: NaNs after a larger number
    v[2 * R + 500] = v[2 * R + 800] = nan;
    for (int64_t i = 0; i < R; ++i) v[3 * R + i] = -kInf;  // row 3: all -inf
    const std::vector<int64_t> expected = {0, 300, 500, 0};
    for (DType dt : kFloatDTypes) {
        SCOPED_TRACE(dtype_name(dt));
        const Tensor x = Tensor::from_vector<double>(v, {4, R}).to(dt);
        EXPECT_EQ(argmax(x, 1).to_vector<int64_t>(), expected);
        EXPECT_EQ(argmax(x.to(gpu()), 1).to(Device::cpu()).to_vector<int64_t>(), expected);
        // The gradient goes to the first maximum only (rows without NaN, whose values compare).
        expect_parity([](const std::vector<Tensor>& t) { return max(t[0], {1}); }, leaves(x.narrow(0, 0, 2)),
                      1);
    }
}

TEST(CudaReduce, LogsumexpOverDims) {
    MOD_REQUIRE_GPU();
    const std::vector<std::vector<int64_t>> dim_sets = {{}, {0}, {-1}, {0, 2}};
    for (DType dt : kFloatDTypes) {
        for (const auto& dims : dim_sets) {
            for (bool keepdim : {false, true}) {
                SCOPED_TRACE(dims_str(dims, keepdim) + " " + dtype_name(dt));
                const Fn fn = [&](const std::vector<Tensor>& x) { return logsumexp(x[0], dims, keepdim); };
                expect_parity(fn, leaves(randn_cpu({4, 5, 6}, 1, dt, 3.0)), 2);
                expect_parity(fn, leaves(randn_cpu({4, 5, 6}, 3, dt, 3.0), true), 4);
            }
        }
    }
}

// Masked entries (-inf) add nothing; a row of only -inf has logsumexp -inf, not NaN.
TEST(CudaReduce, LogsumexpOfMaskedRows) {
    MOD_REQUIRE_GPU();
    const Tensor mask = gt(randn_cpu({5, 40}, 1), 0.5);
    for (DType dt : kFloatDTypes) {
        SCOPED_TRACE(dtype_name(dt));
        const Tensor x = masked_fill(randn_cpu({5, 40}, 2, dt), mask, -kInf);
        expect_parity([](const std::vector<Tensor>& t) { return logsumexp(t[0], {1}); }, leaves(x), 3);
        const Tensor all_masked = Tensor::full({3, 300}, -kInf, dt);
        const std::vector<double> want(3, -kInf);
        EXPECT_EQ(logsumexp(all_masked, {1}).to_vector<double>(), want);
        EXPECT_EQ(logsumexp(all_masked.to(gpu()), {1}).to(Device::cpu()).to_vector<double>(), want);
    }
}

// Long rows (each thread folds hundreds of elements) and more rows than the grid has blocks
// (the grid strides over rows).
TEST(CudaReduce, LongRowsAndManyRows) {
    MOD_REQUIRE_GPU();
    const std::vector<std::pair<const char*, Fn>> ops = {
        {"sum", [](const std::vector<Tensor>& x) { return sum(x[0], {1}); }},
        {"max", [](const std::vector<Tensor>& x) { return max(x[0], {1}); }},
        {"logsumexp", [](const std::vector<Tensor>& x) { return logsumexp(x[0], {1}); }},
    };
    for (DType dt : kFloatDTypes) {
        for (const auto& [name, fn] : ops) {
            SCOPED_TRACE(std::string(name) + " " + dtype_name(dt));
            expect_parity(fn, leaves(randn_cpu({3, 100003}, 1, dt)), 2);
            expect_parity(fn, leaves(randn_cpu({70001, 3}, 3, dt)), 4);
        }
    }
}

TEST(CudaReduce, EmptyReductions) {
    MOD_REQUIRE_GPU();
    const Tensor no_cols = Tensor::zeros({3, 0});
    const Tensor no_rows = Tensor::zeros({0, 4});
    EXPECT_GPU_CLOSE(sum(no_cols.to(gpu()), {1}), sum(no_cols, {1}), tolerance_for(DType::F32));
    EXPECT_EQ(sum(no_rows.to(gpu()), {1}).shape(), (Shape{0}));
    EXPECT_EQ(logsumexp(no_cols.to(gpu()), {1}).to(Device::cpu()).to_vector<double>(),
              logsumexp(no_cols, {1}).to_vector<double>());
    EXPECT_EQ(softmax(no_rows.to(gpu()), -1).shape(), (Shape{0, 4}));
}

TEST(CudaReduce, SoftmaxAndLogSoftmax) {
    MOD_REQUIRE_GPU();
    const std::vector<std::pair<const char*, std::function<Tensor(const Tensor&, int64_t)>>> ops = {
        {"softmax", [](const Tensor& x, int64_t dim) { return softmax(x, dim); }},
        {"log_softmax", [](const Tensor& x, int64_t dim) { return log_softmax(x, dim); }},
    };
    for (DType dt : kFloatDTypes) {
        for (const auto& [name, op] : ops) {
            for (int64_t dim : {0, -1}) {
                SCOPED_TRACE(std::string(name) + " dim " + std::to_string(dim) + " " + dtype_name(dt));
                const Fn fn = [&](const std::vector<Tensor>& x) { return op(x[0], dim); };
                expect_parity(fn, leaves(randn_cpu({6, 37}, 1, dt, 3.0)), 2);
                expect_parity(fn, leaves(randn_cpu({3, 4, 50}, 3, dt, 3.0), true), 4);
                expect_parity(fn, leaves(randn_cpu({300, 4}, 5, dt, 3.0)), 6);
                expect_parity(fn, leaves(randn_cpu({4, 5000}, 7, dt, 3.0)), 8);
            }
        }
    }
}

// Masked (-inf) entries get probability 0 and no gradient; a row of only -inf gives NaN, as
// on the CPU. log_softmax is compared through exp, which maps its -inf outputs to 0.
TEST(CudaReduce, SoftmaxOfMaskedRows) {
    MOD_REQUIRE_GPU();
    const Tensor mask = gt(randn_cpu({6, 300}, 1), 0.0);
    for (DType dt : kFloatDTypes) {
        SCOPED_TRACE(dtype_name(dt));
        const Tensor x = masked_fill(randn_cpu({6, 300}, 2, dt), mask, -kInf);
        expect_parity([](const std::vector<Tensor>& t) { return softmax(t[0], -1); }, leaves(x), 3);
        expect_parity([](const std::vector<Tensor>& t) { return exp(log_softmax(t[0], -1)); }, leaves(x), 4);
        const Tensor all_masked = Tensor::full({2, 300}, -kInf, dt);
        for (const Tensor& y : {softmax(all_masked.to(gpu()), -1), log_softmax(all_masked.to(gpu()), -1)})
            for (double v : y.to(Device::cpu()).to_vector<double>()) EXPECT_TRUE(std::isnan(v));
    }
}

}  // namespace
}  // namespace mod
