// CUDA tensors and the core kernels written beside the allocator: copies and dtype
// conversion, fill, the caching allocator's statistics, cuBLAS matmul (float32, float64,
// bfloat16, transposed views, broadcast batches), conv2d and the optimizer updates, each
// against the CPU.
#include "core/conv.h"
#include "core/elementwise.h"
#include "core/matmul.h"
#include "core/reduce.h"
#include "cuda/cuda_testing.h"
#include "cuda/matmul.h"
#include "nn/optim.h"

namespace mod::testing {
namespace {

TEST(CudaTensor, CopiesConvertAndBroadcast) {
    MOD_REQUIRE_GPU();
    Tensor x = randn_cpu({3, 5, 7}, 1);
    Tensor g = x.to(gpu());
    EXPECT_EQ(g.device(), gpu());
    EXPECT_GPU_CLOSE(g, x, tolerance_for(DType::F64));  // a copy is exact
    EXPECT_GPU_CLOSE(g.transpose(0, 2).contiguous(), x.transpose(0, 2).contiguous(), tolerance_for(DType::F64));
    EXPECT_GPU_CLOSE(g.to(DType::F64), x.to(DType::F64), tolerance_for(DType::F64));
    EXPECT_GPU_CLOSE(g.to(DType::BF16), x.to(DType::BF16), tolerance_for(DType::F64));  // same rounding both sides
    EXPECT_GPU_CLOSE(g.to(DType::I64), x.to(DType::I64), tolerance_for(DType::F64));
    Tensor dst = Tensor::zeros({4, 3, 5, 7}, DType::F32, gpu());
    dst.copy_(x.narrow(1, 0, 5));  // broadcast over the new leading dim, from the host
    EXPECT_GPU_CLOSE(dst, x.unsqueeze(0).expand({4, 3, 5, 7}).contiguous(), tolerance_for(DType::F64));
}

TEST(CudaTensor, FillAndFactoriesStayOnTheDevice) {
    MOD_REQUIRE_GPU();
    Tensor z = Tensor::full({1000, 3}, 2.5, DType::F32, gpu());
    EXPECT_EQ(z.device(), gpu());
    EXPECT_DOUBLE_EQ(sum(z).item(), 7500.0);
    z.narrow(1, 1, 1).fill_(-1.0);
    EXPECT_DOUBLE_EQ(sum(z).item(), 1000 * (2.5 + 2.5 - 1.0));
}

TEST(CudaTensor, AllocatorReusesFreedBlocksAndCountsPeak) {
    MOD_REQUIRE_GPU();
    cuda::reset_peak_memory(0);
    const size_t before = cuda::memory_stats(0).allocated;
    void* first = nullptr;
    {
        Tensor t = Tensor::empty({1 << 20}, DType::F32, gpu());
        first = t.raw_data();
        EXPECT_GE(cuda::memory_stats(0).allocated, before + (4u << 20));
    }
    EXPECT_EQ(cuda::memory_stats(0).allocated, before);
    EXPECT_GE(cuda::memory_stats(0).peak_allocated, before + (4u << 20));
    EXPECT_GE(cuda::memory_stats(0).reserved, cuda::memory_stats(0).allocated + (4u << 20));
    Tensor again = Tensor::empty({1 << 20}, DType::F32, gpu());
    EXPECT_EQ(again.raw_data(), first);  // the cached block comes back
}

TEST(CudaTensor, OutOfMemorySaysWhatWasAsked) {
    MOD_REQUIRE_GPU();
    try {
        Tensor::empty({int64_t(1) << 46}, DType::F32, gpu());  // 256 TiB
        FAIL() << "no error";
    } catch (const DeviceError& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("out of memory"), std::string::npos) << msg;
        EXPECT_NE(msg.find("smaller batch"), std::string::npos) << msg;
    }
}

TEST(CudaTensor, MixingDevicesIsAClearError) {
    MOD_REQUIRE_GPU();
    Tensor a = randn_cpu({2, 2}, 1);
    EXPECT_THROW(add(a, a.to(gpu())), DeviceError);
    EXPECT_THROW(matmul(a, a.to(gpu())), DeviceError);
}

// matmul forward and both gradients, CUDA against CPU.
void check_matmul(const Tensor& a_cpu, const Tensor& b_cpu, Tolerance tol, uint64_t seed) {
    Tensor a = a_cpu.detach().requires_grad_(), b = b_cpu.detach().requires_grad_();
    Tensor ag = a_cpu.detach().to(gpu()).requires_grad_(), bg = b_cpu.detach().to(gpu()).requires_grad_();
    Tensor y = matmul(a, b), yg = matmul(ag, bg);
    EXPECT_GPU_CLOSE(yg, y, tol);
    Tensor up = randn_cpu(y.shape(), seed, y.dtype());
    y.backward(up);
    yg.backward(up.to(gpu()));
    EXPECT_GPU_CLOSE(ag.grad(), a.grad(), tol);
    EXPECT_GPU_CLOSE(bg.grad(), b.grad(), tol);
}

TEST(CudaMatmul, MatchesTheCpuInFloat32AndFloat64) {
    MOD_REQUIRE_GPU();
    for (DType dt : {DType::F32, DType::F64}) {
        const Tolerance tol = dt == DType::F64 ? Tolerance{1e-10, 1e-10} : Tolerance{1e-4, 1e-4};
        check_matmul(randn_cpu({37, 64}, 1, dt), randn_cpu({64, 29}, 2, dt), tol, 3);             // plain
        check_matmul(randn_cpu({2, 3, 17, 8}, 4, dt), randn_cpu({8, 5}, 5, dt), tol, 6);         // shared 2-D b
        check_matmul(randn_cpu({2, 1, 6, 8}, 7, dt), randn_cpu({3, 8, 4}, 8, dt), tol, 9);       // broadcast batch
        check_matmul(randn_cpu({9, 33}, 10, dt).transpose(0, 1), randn_cpu({9, 12}, 11, dt), tol, 12);  // a^T view
        check_matmul(randn_cpu({4, 20, 16}, 13, dt), randn_cpu({4, 9, 16}, 14, dt).transpose(1, 2), tol, 15);
    }
}

TEST(CudaMatmul, Float32IsExactFloat32UnlessTf32IsAsked) {
    MOD_REQUIRE_GPU();
    ASSERT_FALSE(cuda::allow_tf32());
    // With TF32 (10-bit mantissa) a 512-long dot product of such values would be off by ~1e-3.
    check_matmul(randn_cpu({64, 512}, 1), randn_cpu({512, 64}, 2), {1e-5, 1e-4}, 3);
}

TEST(CudaMatmul, Bfloat16InputsAccumulateInFloat32) {
    MOD_REQUIRE_GPU();
    Tensor a = randn_cpu({64, 256}, 1), b = randn_cpu({256, 48}, 2);
    // Reference: the same bf16-rounded inputs multiplied in float64.
    Tensor ref = matmul(a.to(DType::BF16).to(DType::F64), b.to(DType::BF16).to(DType::F64));
    Tensor y = matmul(a.to(gpu()).to(DType::BF16), b.to(gpu()).to(DType::BF16));
    EXPECT_EQ(y.dtype(), DType::BF16);
    EXPECT_GPU_CLOSE(y.to(DType::F64), ref, (Tolerance{1e-2, 1e-1}));  // the output's bf16 rounding
    EXPECT_THROW(matmul(a.to(DType::BF16), b.to(DType::BF16)), DTypeError);  // CPU: storage only
}

// The reference of matmul_bf16: float64 products of the bf16-rounded operands.
Tensor rounded(const Tensor& t) { return t.detach().to(DType::BF16).to(DType::F64); }

TEST(CudaMatmul, Bf16ProductOfFloat32OperandsWithGradients) {
    MOD_REQUIRE_GPU();
    const Tolerance tol{5e-3, 5e-3};  // float32 accumulation of exact bf16 products; no output rounding
    for (const auto& [sa, sb] : {std::pair<Shape, Shape>{{2, 37, 64}, {64, 48}},    // shared 2-D weight
                                 std::pair<Shape, Shape>{{3, 16, 32}, {3, 32, 8}},  // batched
                                 std::pair<Shape, Shape>{{40, 24}, {24, 40}}}) {
        Tensor a = randn_cpu(sa, 1), b = randn_cpu(sb, 2);
        Tensor ag = a.to(gpu()).requires_grad_(), bg = b.to(gpu()).requires_grad_();
        Tensor y = matmul_bf16(ag, bg);
        EXPECT_EQ(y.dtype(), DType::F32);
        EXPECT_GPU_CLOSE(y, matmul(rounded(a), rounded(b)), tol);
        Tensor up = randn_cpu(y.shape(), 3);
        y.backward(up.to(gpu()));
        Tensor da = matmul(rounded(up), rounded(b).transpose(-1, -2));
        Tensor db = matmul(rounded(a).transpose(-1, -2), rounded(up));
        EXPECT_GPU_CLOSE(ag.grad(), sum_to(da, sa), tol);
        EXPECT_GPU_CLOSE(bg.grad(), sum_to(db, sb), tol);
        EXPECT_EQ(bg.grad().dtype(), DType::F32);
    }
    EXPECT_THROW(matmul_bf16(randn_cpu({2, 2}, 1), randn_cpu({2, 2}, 2)), DeviceError);  // GPU only
}

TEST(CudaMatmul, GroupedMatchesTheCpuWithGradients) {
    MOD_REQUIRE_GPU();
    // Five groups: one empty, one weight a transposed view; more rows than one tile.
    const std::vector<int64_t> sizes{70, 0, 3, 130, 1};
    for (DType dt : {DType::F32, DType::F64}) {
        const Tolerance tol = dt == DType::F64 ? Tolerance{1e-10, 1e-10} : Tolerance{1e-4, 1e-4};
        Tensor x = randn_cpu({204, 48}, 1, dt).requires_grad_();
        std::vector<Tensor> w, wg;
        for (size_t g = 0; g < sizes.size(); ++g) {
            Tensor t = g == 3 ? randn_cpu({40, 48}, 10 + g, dt).transpose(0, 1) : randn_cpu({48, 40}, 10 + g, dt);
            w.push_back(t.detach().requires_grad_());
            wg.push_back(t.detach().to(gpu()).requires_grad_());
        }
        Tensor xg = x.detach().to(gpu()).requires_grad_();
        Tensor y = grouped_matmul(x, w, sizes), yg = grouped_matmul(xg, wg, sizes);
        EXPECT_GPU_CLOSE(yg, y, tol);
        Tensor up = randn_cpu(y.shape(), 3, dt);
        y.backward(up);
        yg.backward(up.to(gpu()));
        EXPECT_GPU_CLOSE(xg.grad(), x.grad(), tol);
        for (size_t g = 0; g < sizes.size(); ++g) EXPECT_GPU_CLOSE(wg[g].grad(), w[g].grad(), tol) << "group " << g;
    }
    // bf16 operands, float32 accumulation: against the CPU product of the rounded inputs.
    Tensor x = randn_cpu({204, 48}, 4);
    std::vector<Tensor> w64, wb;
    for (size_t g = 0; g < sizes.size(); ++g) {
        Tensor t = randn_cpu({48, 40}, 20 + g).to(DType::BF16);
        w64.push_back(t.to(DType::F64));
        wb.push_back(t.to(gpu()));
    }
    Tensor ref = grouped_matmul(x.to(DType::BF16).to(DType::F64), w64, sizes);
    Tensor yb = grouped_matmul(x.to(gpu()).to(DType::BF16), wb, sizes);
    EXPECT_GPU_CLOSE(yb.to(DType::F64), ref, (Tolerance{1e-2, 1e-1}));
}

TEST(CudaConv, MatchesTheCpuWithStrideAndPadding) {
    MOD_REQUIRE_GPU();
    for (auto [stride, padding] : {std::pair{1, 1}, std::pair{2, 0}, std::pair{16, 0}}) {
        const int64_t k = stride == 16 ? 16 : 3;
        Tensor x = randn_cpu({2, 3, 32, 32}, 1).requires_grad_(), w = randn_cpu({5, 3, k, k}, 2).requires_grad_();
        Tensor b = randn_cpu({5}, 3).requires_grad_();
        Tensor xg = x.detach().to(gpu()).requires_grad_(), wg = w.detach().to(gpu()).requires_grad_();
        Tensor bg = b.detach().to(gpu()).requires_grad_();
        Tensor y = conv2d(x, w, b, stride, padding), yg = conv2d(xg, wg, bg, stride, padding);
        const Tolerance tol{1e-4, 1e-4};
        EXPECT_GPU_CLOSE(yg, y, tol);
        Tensor up = randn_cpu(y.shape(), 4);
        y.backward(up);
        yg.backward(up.to(gpu()));
        EXPECT_GPU_CLOSE(xg.grad(), x.grad(), tol);
        EXPECT_GPU_CLOSE(wg.grad(), w.grad(), tol);
        EXPECT_GPU_CLOSE(bg.grad(), b.grad(), tol);
    }
}

// Three optimizer steps with the same gradients on both devices give the same parameters.
template <typename Opt, typename Options>
void check_optimizer(const Options& options) {
    Tensor p = randn_cpu({300, 7}, 1).requires_grad_(), pg = p.detach().to(gpu()).requires_grad_();
    Opt cpu_opt({{"w.weight", p}}, options), gpu_opt({{"w.weight", pg}}, options);
    for (uint64_t s = 0; s < 3; ++s) {
        Tensor g = randn_cpu({300, 7}, 10 + s);
        p.set_grad(g);
        pg.set_grad(g.to(gpu()));
        cpu_opt.step();
        gpu_opt.step();
    }
    EXPECT_GPU_CLOSE(pg, p, (Tolerance{1e-5, 1e-6}));
}

TEST(CudaOptim, AdamWAndSgdMatchTheCpu) {
    MOD_REQUIRE_GPU();
    AdamWOptions adamw;
    adamw.lr = 1e-2;
    adamw.weight_decay = 0.1;
    check_optimizer<AdamW>(adamw);
    SGDOptions sgd;
    sgd.lr = 1e-2;
    sgd.momentum = 0.9;
    sgd.nesterov = true;
    sgd.weight_decay = 0.01;
    check_optimizer<SGD>(sgd);
}

TEST(CudaOptim, ClipGradNormMatchesTheCpu) {
    MOD_REQUIRE_GPU();
    Tensor p = randn_cpu({100}, 1).requires_grad_(), pg = p.detach().to(gpu()).requires_grad_();
    Tensor g = randn_cpu({100}, 2, DType::F32, 5.0);
    p.set_grad(g);
    pg.set_grad(g.to(gpu()));
    const double n_cpu = clip_grad_norm({{"p", p}}, 1.0), n_gpu = clip_grad_norm({{"p", pg}}, 1.0);
    EXPECT_NEAR(n_gpu, n_cpu, 1e-4 * n_cpu);
    EXPECT_GPU_CLOSE(pg.grad(), p.grad(), (Tolerance{1e-5, 1e-6}));
}

}  // namespace
}  // namespace mod::testing
