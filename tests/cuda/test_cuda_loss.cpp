// cross_entropy, soft_cross_entropy and kl_div on CUDA against the CPU, through the public
// ops: the loss and the gradients of every input, in float32 and float64, with ignored
// rows, label smoothing, temperatures != 1 and a vocabulary (V = 5000) much wider than a
// block, so rows are read in many strides.
#include <algorithm>
#include <cmath>

#include "core/loss.h"
#include "cuda/cuda_testing.h"

namespace mod {
namespace {

using testing::gpu;
using testing::randn_cpu;
using testing::random_leaves;
using testing::Leaves;
using testing::Tolerance;
using testing::tolerance_for;

// Softmax gradients are O(1/V) per entry: a fixed absolute floor would accept a wrong (even
// zero) gradient, so the floor scales with the largest entry of the CPU result.
Tolerance relative_to_max(const Tensor& cpu, DType dtype) {
    double top = 0;
    for (double v : cpu.to_vector<double>()) top = std::max(top, std::abs(v));
    const Tolerance tol = tolerance_for(dtype);
    return {tol.rtol, tol.atol * top};
}

// Targets in [0, V), every `ignore_every`-th one ignore_index (none when 0).
Tensor make_targets(int64_t N, int64_t V, int64_t ignore_every, int64_t ignore_index) {
    std::vector<int64_t> t(N);
    for (int64_t i = 0; i < N; ++i)
        t[i] = ignore_every && i % ignore_every == 0 ? ignore_index : (i * 7919 + 13) % V;
    return Tensor::from_vector(t, {N});
}

// The same scalar loss backward from the same upstream gradient on both devices.
void backward_both(const Tensor& loss_cpu, const Tensor& loss_gpu, double g) {
    Tensor grad = Tensor::full({}, g, loss_cpu.dtype());
    loss_cpu.backward(grad);
    loss_gpu.backward(grad.to(gpu()));
}

void check_cross_entropy(int64_t N, int64_t V, int64_t ignore_every, double smoothing, DType dtype) {
    SCOPED_TRACE(std::string(dtype_name(dtype)) + " N=" + std::to_string(N) + " V=" + std::to_string(V) +
                 " ignore_every=" + std::to_string(ignore_every) + " smoothing=" + std::to_string(smoothing));
    const int64_t ignore_index = -7;
    // Scale 4: the row maxima move a lot while a row is read, exercising the online rescaling.
    Leaves z = random_leaves({N, V}, 11, dtype, 4.0);
    Tensor t = make_targets(N, V, ignore_every, ignore_index);
    Tensor loss_cpu = cross_entropy(z.cpu, t, ignore_index, smoothing);
    Tensor loss_gpu = cross_entropy(z.gpu, t.to(gpu()), ignore_index, smoothing);
    EXPECT_TRUE(loss_gpu.device().is_cuda());
    EXPECT_EQ(loss_gpu.dtype(), dtype);
    EXPECT_GPU_CLOSE(loss_gpu, loss_cpu, tolerance_for(dtype));
    backward_both(loss_cpu, loss_gpu, 0.7);
    EXPECT_GPU_CLOSE(z.gpu.grad(), z.cpu.grad(), relative_to_max(z.cpu.grad(), dtype));
}

TEST(CudaLoss, CrossEntropyMatchesCpu) {
    MOD_REQUIRE_GPU();
    for (DType dtype : {DType::F32, DType::F64}) {
        for (double smoothing : {0.0, 0.1}) {
            check_cross_entropy(37, 5000, 0, smoothing, dtype);
            check_cross_entropy(37, 5000, 4, smoothing, dtype);
            check_cross_entropy(300, 11, 3, smoothing, dtype);
        }
    }
}

TEST(CudaLoss, CrossEntropyAllIgnored) {
    MOD_REQUIRE_GPU();
    // No valid row: the loss is 0 and the gradient 0, with no division by the zero count.
    Tensor z = randn_cpu({3, 50}, 12).to(gpu()).requires_grad_();
    Tensor loss = cross_entropy(z, Tensor::full({3}, -100, DType::I64).to(gpu()));
    EXPECT_EQ(loss.item(), 0.0);
    loss.backward(Tensor::full({}, 1.0).to(gpu()));
    for (double v : z.grad().to(Device::cpu()).to_vector<double>()) EXPECT_EQ(v, 0.0);
}

void check_soft(int64_t N, int64_t V, double tau, bool kl, DType dtype) {
    SCOPED_TRACE(std::string(dtype_name(dtype)) + (kl ? " kl_div" : " soft_cross_entropy") +
                 " N=" + std::to_string(N) + " V=" + std::to_string(V) + " tau=" + std::to_string(tau));
    // Unit-scale logits: dt = p_T (c - mean c) cancels where p_T is near 1, and in float32 the
    // cancellation error grows with the logits' size (c = -log p_S is computed to |z| * 6e-8).
    Leaves z = random_leaves({N, V}, 21, dtype, 1.0), t = random_leaves({N, V}, 22, dtype, 1.0);
    Tensor loss_cpu = kl ? kl_div(z.cpu, t.cpu, tau) : soft_cross_entropy(z.cpu, t.cpu, tau);
    Tensor loss_gpu = kl ? kl_div(z.gpu, t.gpu, tau) : soft_cross_entropy(z.gpu, t.gpu, tau);
    EXPECT_GPU_CLOSE(loss_gpu, loss_cpu, tolerance_for(dtype));
    backward_both(loss_cpu, loss_gpu, 1.3);
    EXPECT_GPU_CLOSE(z.gpu.grad(), z.cpu.grad(), relative_to_max(z.cpu.grad(), dtype));
    EXPECT_GPU_CLOSE(t.gpu.grad(), t.cpu.grad(), relative_to_max(t.cpu.grad(), dtype));
}

TEST(CudaLoss, SoftCrossEntropyMatchesCpu) {
    MOD_REQUIRE_GPU();
    for (DType dtype : {DType::F32, DType::F64}) {
        for (double tau : {1.0, 2.0, 0.5}) {
            check_soft(23, 5000, tau, false, dtype);
            check_soft(64, 9, tau, false, dtype);
        }
    }
}

TEST(CudaLoss, KlDivMatchesCpu) {
    MOD_REQUIRE_GPU();
    for (DType dtype : {DType::F32, DType::F64}) {
        check_soft(23, 5000, 1.5, true, dtype);
        check_soft(5, 17, 1.0, true, dtype);
    }
}

TEST(CudaLoss, SoftCrossEntropyFrozenTarget) {
    MOD_REQUIRE_GPU();
    // A teacher's logits need no gradient: only dz is computed, and it matches the CPU.
    for (DType dtype : {DType::F32, DType::F64}) {
        SCOPED_TRACE(dtype_name(dtype));
        Leaves z = random_leaves({6, 300}, 31, dtype, 2.0);
        Tensor t = randn_cpu({6, 300}, 32, dtype, 2.0);
        Tensor loss_cpu = soft_cross_entropy(z.cpu, t, 2.0);
        Tensor loss_gpu = soft_cross_entropy(z.gpu, t.to(gpu()), 2.0);
        EXPECT_GPU_CLOSE(loss_gpu, loss_cpu, tolerance_for(dtype));
        backward_both(loss_cpu, loss_gpu, 1.0);
        EXPECT_GPU_CLOSE(z.gpu.grad(), z.cpu.grad(), relative_to_max(z.cpu.grad(), dtype));
    }
}

}  // namespace
}  // namespace mod
