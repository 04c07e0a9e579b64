// Helpers of the CUDA tests: every CUDA op is compared with the CPU op on the same random
// inputs. Each test starts with MOD_REQUIRE_GPU(), which skips it with a clear message on a
// machine without a GPU (CI), so the suite is compiled everywhere and run where it can be.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "core/random.h"
#include "core/tensor.h"
#include "cuda/memory.h"

#define MOD_REQUIRE_GPU()                                                                   \
    do {                                                                                    \
        if (!::mod::cuda::is_available()) GTEST_SKIP() << "no CUDA device visible: CUDA test not run"; \
    } while (0)

namespace mod::testing {

inline Device gpu() { return Device::cuda(0); }

// A normal random CPU tensor of `shape` and dtype (float32 unless told).
inline Tensor randn_cpu(const Shape& shape, uint64_t seed, DType dtype = DType::F32, double scale = 1.0) {
    Generator gen(seed);
    Tensor t = Tensor::empty(shape, DType::F64);
    normal_(t, 0.0, scale, gen);
    return t.to(dtype);
}

// Tolerances per dtype for a CUDA result against the CPU one: float64 agrees to rounding,
// float32 to the reordering of sums (GPU reductions and GEMMs add in another order),
// bfloat16 to its 8-bit mantissa.
struct Tolerance {
    double rtol, atol;
};
inline Tolerance tolerance_for(DType dtype) {
    switch (dtype) {
        case DType::F64: return {1e-10, 1e-12};
        case DType::BF16: return {2e-2, 2e-2};
        default: return {1e-4, 1e-5};
    }
}

// |gpu - cpu| <= atol + rtol |cpu| for every element; reports the worst element.
inline ::testing::AssertionResult all_close(const Tensor& gpu_result, const Tensor& cpu_result, Tolerance tol) {
    if (gpu_result.shape() != cpu_result.shape())
        return ::testing::AssertionFailure() << "shape " << shape_str(gpu_result.shape()) << " vs "
                                             << shape_str(cpu_result.shape());
    const std::vector<double> g = gpu_result.to(Device::cpu()).to_vector<double>();
    const std::vector<double> c = cpu_result.to_vector<double>();
    double worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < g.size(); ++i) {
        const double excess = std::abs(g[i] - c[i]) - (tol.atol + tol.rtol * std::abs(c[i]));
        if (!(excess <= worst)) {  // NaN-aware: a NaN difference always fails
            worst = std::isnan(excess) ? INFINITY : excess;
            at = i;
        }
    }
    if (worst > 0)
        return ::testing::AssertionFailure() << "element " << at << ": gpu " << g[at] << " cpu " << c[at]
                                             << " (rtol " << tol.rtol << ", atol " << tol.atol << ")";
    return ::testing::AssertionSuccess();
}


// Equal leaves holding `values` on the CPU and on the GPU, each requiring grad (the GPU one a
// leaf of its own: .to is differentiable). With `transposed`, each is the transposed view
// (last two dims) of a contiguous tensor, so the kernels see strided input.
struct Leaves {
    Tensor cpu, gpu;
};
inline Leaves leaves(const Tensor& values, bool transposed = false) {
    if (!transposed) return {values.detach().requires_grad_(), values.to(gpu()).detach().requires_grad_()};
    Tensor base = values.transpose(-1, -2).contiguous();
    return {base.detach().transpose(-1, -2).requires_grad_(),
            base.to(gpu()).detach().transpose(-1, -2).requires_grad_()};
}
inline Leaves random_leaves(const Shape& shape, uint64_t seed, DType dtype = DType::F32, double scale = 1.0) {
    return leaves(randn_cpu(shape, seed, dtype, scale));
}

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;
}  // namespace mod::testing

#define EXPECT_GPU_CLOSE(gpu_result, cpu_result, tol) EXPECT_TRUE(::mod::testing::all_close(gpu_result, cpu_result, tol))

namespace mod::testing {

// Runs fn on the CPU leaves and on their GPU twins, backpropagates one random upstream
// gradient through both, and compares the outputs and every input's gradient (with the
// output dtype's tolerance unless one is given).
inline void expect_parity(const Fn& fn, const std::vector<Leaves>& inputs, uint64_t seed) {
    std::vector<Tensor> on_cpu, on_gpu;
    for (const Leaves& l : inputs) {
        on_cpu.push_back(l.cpu);
        on_gpu.push_back(l.gpu);
    }
    Tensor y_cpu = fn(on_cpu), y_gpu = fn(on_gpu);
    ASSERT_TRUE(y_gpu.device().is_cuda());
    const Tolerance tol = tolerance_for(y_cpu.dtype());
    EXPECT_GPU_CLOSE(y_gpu, y_cpu, tol);
    Tensor dy = randn_cpu(y_cpu.shape(), seed, y_cpu.dtype());
    y_cpu.backward(dy);
    y_gpu.backward(dy.to(gpu()));
    for (size_t i = 0; i < inputs.size(); ++i) {
        SCOPED_TRACE("gradient of input " + std::to_string(i));
        ASSERT_EQ(on_gpu[i].grad().defined(), on_cpu[i].grad().defined());
        if (on_cpu[i].grad().defined()) {
            EXPECT_GPU_CLOSE(on_gpu[i].grad(), on_cpu[i].grad(), tol);
        }
    }
}

}  // namespace mod::testing
