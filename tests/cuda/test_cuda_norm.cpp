// layer_norm and rms_norm on CUDA against the CPU, through the public ops: outputs and the
// gradients of x, weight and bias, in float32 and float64, with shapes that leave threads
// idle (D = 33), loop within a row (D = 1000) and give backward blocks several rows each
// (600 rows over at most 512 blocks).
#include <cmath>

#include "core/elementwise.h"
#include "core/norm.h"
#include "cuda/cuda_testing.h"

namespace mod {
namespace {

using testing::gpu;
using testing::randn_cpu;
using testing::random_leaves;
using testing::Leaves;
using testing::Tolerance;
using testing::tolerance_for;

const Shape kShapes[] = {{3, 5, 96}, {600, 33}, {4, 1000}};

// Weight and bias gradients add over every row, in another order on the GPU: their
// rounding error grows like the square root of the row count.
Tolerance column_sum_tolerance(DType dtype, int64_t rows) {
    const Tolerance tol = tolerance_for(dtype);
    return {tol.rtol, tol.atol * std::sqrt(static_cast<double>(rows))};
}

// Runs layer_norm (or rms_norm) on both devices with the same upstream gradient and compares
// y and every gradient; with_weight / with_bias choose the optional parameters.
void check_norm(const Shape& shape, DType dtype, bool rms, bool with_weight, bool with_bias) {
    SCOPED_TRACE(std::string(dtype_name(dtype)) + " " + shape_str(shape) + (rms ? " rms" : " layer") +
                 (with_weight ? " weight" : "") + (with_bias ? " bias" : ""));
    const int64_t D = shape.back(), rows = shape_numel(shape) / D;
    Leaves x = random_leaves(shape, 1, dtype);
    Leaves w = with_weight ? random_leaves({D}, 2, dtype) : Leaves{};
    Leaves b = with_bias ? random_leaves({D}, 3, dtype) : Leaves{};
    const double eps = 1e-5;
    Tensor y_cpu = rms ? rms_norm(x.cpu, w.cpu, eps) : layer_norm(x.cpu, w.cpu, b.cpu, eps);
    Tensor y_gpu = rms ? rms_norm(x.gpu, w.gpu, eps) : layer_norm(x.gpu, w.gpu, b.gpu, eps);
    const Tolerance tol = tolerance_for(dtype);
    EXPECT_GPU_CLOSE(y_gpu, y_cpu, tol);

    Tensor dy = randn_cpu(shape, 4, dtype);
    y_cpu.backward(dy);
    y_gpu.backward(dy.to(gpu()));
    EXPECT_GPU_CLOSE(x.gpu.grad(), x.cpu.grad(), tol);
    if (with_weight) {
        EXPECT_GPU_CLOSE(w.gpu.grad(), w.cpu.grad(), column_sum_tolerance(dtype, rows));
    }
    if (with_bias) {
        EXPECT_GPU_CLOSE(b.gpu.grad(), b.cpu.grad(), column_sum_tolerance(dtype, rows));
    }
}

TEST(CudaNorm, LayerNormMatchesCpu) {
    MOD_REQUIRE_GPU();
    for (DType dtype : {DType::F32, DType::F64}) {
        for (const Shape& shape : kShapes) {
            check_norm(shape, dtype, false, true, true);
            check_norm(shape, dtype, false, true, false);
            check_norm(shape, dtype, false, false, false);
        }
    }
}

TEST(CudaNorm, RmsNormMatchesCpu) {
    MOD_REQUIRE_GPU();
    for (DType dtype : {DType::F32, DType::F64}) {
        for (const Shape& shape : kShapes) {
            check_norm(shape, dtype, true, true, false);
            check_norm(shape, dtype, true, false, false);
        }
    }
}

TEST(CudaNorm, LargeOffsetInput) {
    MOD_REQUIRE_GPU();
    // Rows far from zero: the two-pass variance must not cancel (a one-pass E[x^2] - E[x]^2
    // in float32 would lose every digit here).
    for (DType dtype : {DType::F32, DType::F64}) {
        SCOPED_TRACE(dtype_name(dtype));
        Tensor x = (randn_cpu({8, 256}, 5, DType::F64) + 1000.0).to(dtype);
        Tensor w = randn_cpu({256}, 6, dtype);
        Tensor y_cpu = layer_norm(x, w, Tensor(), 1e-5);
        Tensor y_gpu = layer_norm(x.to(gpu()), w.to(gpu()), Tensor(), 1e-5);
        // float32 holds 1000 + x to 6e-5: the normalised rows agree to that, not to 1e-4 relative.
        const Tolerance tol = dtype == DType::F32 ? Tolerance{1e-3, 1e-3} : tolerance_for(dtype);
        EXPECT_GPU_CLOSE(y_gpu, y_cpu, tol);
    }
}

}  // namespace
}  // namespace mod
