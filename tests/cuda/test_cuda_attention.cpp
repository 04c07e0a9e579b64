// CUDA rope and fused attention against the CPU ops on the same random inputs: outputs and
// the gradients of every input through autograd. The attention cases cover the kernels'
// edges: sequence lengths that are not multiples of the tiles (64 rows in float32, 32 in
// float64), the three head-dim buckets (16 -> 32, 64, 128), grouped and multi-query heads,
// a causal KV-cache offset (S > T) and non-causal cross attention. bfloat16 runs its own
// tensor-core kernels (64-row tiles, head dims padded to 32, 64 or 128) and is checked against
// the CPU in float64 on the same bf16-rounded inputs.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/attention.h"
#include "cuda_testing.h"

namespace mod {
namespace {

using testing::gpu;
using testing::randn_cpu;
using testing::tolerance_for;

struct AttentionCase {
    const char* name;
    int64_t B, H, Hkv, T, S, Dh;
    bool causal;
    double scale;  // <= 0: 1/sqrt(Dh)
};

// Runs the case on both devices from the same CPU leaves and compares out, dq, dk, dv.
void expect_attention_matches(const AttentionCase& c, DType dtype, uint64_t seed, testing::Tolerance tol) {
    SCOPED_TRACE(std::string(c.name) + (dtype == DType::F64 ? " float64" : " float32"));
    Tensor q = randn_cpu({c.B, c.H, c.T, c.Dh}, seed, dtype);
    Tensor k = randn_cpu({c.B, c.Hkv, c.S, c.Dh}, seed + 1, dtype);
    Tensor v = randn_cpu({c.B, c.Hkv, c.S, c.Dh}, seed + 2, dtype);
    Tensor dout = randn_cpu({c.B, c.H, c.T, c.Dh}, seed + 3, dtype);
    Tensor qg = q.to(gpu()).detach().requires_grad_();
    Tensor kg = k.to(gpu()).detach().requires_grad_();
    Tensor vg = v.to(gpu()).detach().requires_grad_();
    q.requires_grad_();
    k.requires_grad_();
    v.requires_grad_();

    Tensor out = scaled_dot_product_attention(q, k, v, c.causal, c.scale);
    Tensor out_gpu = scaled_dot_product_attention(qg, kg, vg, c.causal, c.scale);
    EXPECT_GPU_CLOSE(out_gpu, out, tol);

    out.backward(dout);
    out_gpu.backward(dout.to(gpu()));
    ASSERT_TRUE(qg.grad().defined() && kg.grad().defined() && vg.grad().defined());
    EXPECT_GPU_CLOSE(qg.grad(), q.grad(), tol);
    EXPECT_GPU_CLOSE(kg.grad(), k.grad(), tol);
    EXPECT_GPU_CLOSE(vg.grad(), v.grad(), tol);
}

// name, B, H, Hkv, T, S, Dh, causal, scale
const AttentionCase kSelfAttention[] = {
    {"causal T=37 Dh=64 GQA", 2, 4, 2, 37, 37, 64, true, 0.0},
    {"full T=37 Dh=64 GQA", 2, 4, 2, 37, 37, 64, false, 0.0},
    {"causal T=100 Dh=16 GQA", 1, 4, 2, 100, 100, 16, true, 0.0},
    {"full T=100 Dh=128 MQA", 1, 4, 1, 100, 100, 128, false, 0.0},
    {"causal T=130 Dh=128", 1, 2, 2, 130, 130, 128, true, 0.0},
};

// S != T: queries at the end of a KV cache (causal) and cross attention (not causal).
const AttentionCase kOffsetAttention[] = {
    {"causal T=37 S=100 Dh=16 GQA", 2, 4, 2, 37, 100, 16, true, 0.0},
    {"causal T=65 S=130 Dh=64 GQA", 1, 4, 2, 65, 130, 64, true, 0.0},
    {"causal decode T=1 S=70 Dh=64", 2, 4, 2, 1, 70, 64, true, 0.0},
    {"full T=5 S=100 Dh=128 scale=0.3", 1, 4, 2, 5, 100, 128, false, 0.3},
    {"full T=100 S=37 Dh=64", 1, 2, 1, 100, 37, 64, false, 0.0},
};

TEST(CudaAttention, SelfAttentionFloat32) {
    MOD_REQUIRE_GPU();
    uint64_t seed = 10;
    for (const AttentionCase& c : kSelfAttention)
        expect_attention_matches(c, DType::F32, seed += 10, tolerance_for(DType::F32));
}

TEST(CudaAttention, SelfAttentionFloat64) {
    MOD_REQUIRE_GPU();
    uint64_t seed = 20;
    for (const AttentionCase& c : kSelfAttention)
        expect_attention_matches(c, DType::F64, seed += 10, tolerance_for(DType::F64));
}

TEST(CudaAttention, KvOffsetAndCrossAttentionFloat32) {
    MOD_REQUIRE_GPU();
    uint64_t seed = 30;
    for (const AttentionCase& c : kOffsetAttention)
        expect_attention_matches(c, DType::F32, seed += 10, tolerance_for(DType::F32));
}

TEST(CudaAttention, KvOffsetAndCrossAttentionFloat64) {
    MOD_REQUIRE_GPU();
    uint64_t seed = 40;
    for (const AttentionCase& c : kOffsetAttention)
        expect_attention_matches(c, DType::F64, seed += 10, tolerance_for(DType::F64));
}

TEST(CudaAttention, SharpSoftmax) {
    // scale = 1 with Dh = 64 gives scores of standard deviation 8: the running max of the
    // online softmax changes from key tile to key tile and the rescaling must be exact.
    MOD_REQUIRE_GPU();
    const AttentionCase c{"sharp causal T=150 Dh=64", 1, 2, 1, 150, 150, 64, true, 1.0};
    // float32: scores near 30 carry ~2e-6 of rounding into P, and dS = P (dP - D) cancels,
    // so float32 gradients of the two devices differ by up to ~4e-5 (measured on an H200).
    expect_attention_matches(c, DType::F32, 50, {1e-3, 1e-4});
    expect_attention_matches(c, DType::F64, 60, tolerance_for(DType::F64));
}

// bfloat16 on the GPU against the CPU in float64 on the same bf16-rounded q, k, v and upstream
// gradient, so only the kernels' own rounding is measured: P and dS are rounded to bf16 before
// their products (2^-9 relative per term) and out, dq, dk, dv are stored in bf16 (2^-9
// relative). A gradient element sums many such terms with cancellation, so its error scales
// with the tensor's magnitude rather than its own: the tolerance is 2e-2 relative plus
// `spread` times the tensor's largest reference magnitude. A float64 emulation of exactly this
// rounding (20 seeds per case) used at most 0.56 of that budget with spread = 1e-2.
void expect_bf16_attention_matches(const AttentionCase& c, uint64_t seed, double spread) {
    SCOPED_TRACE(std::string(c.name) + " bfloat16");
    const Tensor q16 = randn_cpu({c.B, c.H, c.T, c.Dh}, seed, DType::BF16);
    const Tensor k16 = randn_cpu({c.B, c.Hkv, c.S, c.Dh}, seed + 1, DType::BF16);
    const Tensor v16 = randn_cpu({c.B, c.Hkv, c.S, c.Dh}, seed + 2, DType::BF16);
    const Tensor dout16 = randn_cpu({c.B, c.H, c.T, c.Dh}, seed + 3, DType::BF16);
    Tensor q = q16.to(DType::F64), k = k16.to(DType::F64), v = v16.to(DType::F64);
    q.requires_grad_();
    k.requires_grad_();
    v.requires_grad_();
    Tensor qg = q16.to(gpu()).detach().requires_grad_();
    Tensor kg = k16.to(gpu()).detach().requires_grad_();
    Tensor vg = v16.to(gpu()).detach().requires_grad_();
    auto tolerance = [spread](const Tensor& reference) {
        double largest = 0;
        for (double x : reference.to_vector<double>()) largest = std::max(largest, std::abs(x));
        return testing::Tolerance{2e-2, spread * largest};
    };

    Tensor out = scaled_dot_product_attention(q, k, v, c.causal, c.scale);
    Tensor out_gpu = scaled_dot_product_attention(qg, kg, vg, c.causal, c.scale);
    ASSERT_EQ(out_gpu.dtype(), DType::BF16);
    EXPECT_GPU_CLOSE(out_gpu, out, tolerance(out));

    out.backward(dout16.to(DType::F64));
    out_gpu.backward(dout16.to(gpu()));
    ASSERT_TRUE(qg.grad().defined() && kg.grad().defined() && vg.grad().defined());
    EXPECT_EQ(qg.grad().dtype(), DType::BF16);
    EXPECT_GPU_CLOSE(qg.grad(), q.grad(), tolerance(q.grad()));
    EXPECT_GPU_CLOSE(kg.grad(), k.grad(), tolerance(k.grad()));
    EXPECT_GPU_CLOSE(vg.grad(), v.grad(), tolerance(v.grad()));
}

// name, B, H, Hkv, T, S, Dh, causal, scale. Tiles are 64 rows: T = 37, 100, 150 end in
// partial tiles. Dh = 40 is padded to 64 (16-byte loads), Dh = 12 to 32 (element loads).
const AttentionCase kBf16SelfAttention[] = {
    {"causal T=37 Dh=64 GQA", 2, 4, 2, 37, 37, 64, true, 0.0},
    {"full T=37 Dh=64 GQA", 2, 4, 2, 37, 37, 64, false, 0.0},
    {"causal T=150 Dh=64 GQA of 3", 1, 6, 2, 150, 150, 64, true, 0.0},
    {"full T=100 Dh=128 MQA", 1, 4, 1, 100, 100, 128, false, 0.0},
    {"causal T=150 Dh=128", 1, 2, 2, 150, 150, 128, true, 0.0},
    {"full T=37 Dh=32", 2, 2, 2, 37, 37, 32, false, 0.0},
    {"causal T=100 Dh=40 GQA", 1, 4, 2, 100, 100, 40, true, 0.0},
    {"causal T=37 Dh=12", 1, 2, 1, 37, 37, 12, true, 0.0},
};

const AttentionCase kBf16OffsetAttention[] = {
    {"causal T=37 S=100 Dh=64 GQA", 2, 4, 2, 37, 100, 64, true, 0.0},
    {"causal T=65 S=130 Dh=128 GQA", 1, 4, 2, 65, 130, 128, true, 0.0},
    {"causal decode T=1 S=70 Dh=64", 2, 4, 2, 1, 70, 64, true, 0.0},
    {"full T=100 S=37 Dh=64", 1, 2, 1, 100, 37, 64, false, 0.0},
};

TEST(CudaAttention, SelfAttentionBfloat16) {
    MOD_REQUIRE_GPU();
    uint64_t seed = 80;
    for (const AttentionCase& c : kBf16SelfAttention) expect_bf16_attention_matches(c, seed += 10, 1e-2);
}

TEST(CudaAttention, KvOffsetAndCrossAttentionBfloat16) {
    MOD_REQUIRE_GPU();
    uint64_t seed = 180;
    for (const AttentionCase& c : kBf16OffsetAttention) expect_bf16_attention_matches(c, seed += 10, 1e-2);
}

TEST(CudaAttention, SharpSoftmaxBfloat16) {
    // Scores of standard deviation 8 and 3.4: where one key dominates a row, dS = P (dP - D)
    // cancels, and D = rowsum(dO * out) reads the bf16 out (as FlashAttention-2 does), which
    // is 2^-9 |dO| |out| off; the emulation reached 0.77 of the 1e-2 budget, so 2e-2.
    MOD_REQUIRE_GPU();
    const AttentionCase sharp[] = {
        {"sharp causal T=150 Dh=64 scale=1", 1, 2, 1, 150, 150, 64, true, 1.0},
        {"full T=5 S=100 Dh=128 scale=0.3", 1, 4, 2, 5, 100, 128, false, 0.3},
    };
    uint64_t seed = 280;
    for (const AttentionCase& c : sharp) expect_bf16_attention_matches(c, seed += 10, 2e-2);
}

TEST(CudaAttention, Bfloat16IsGpuOnly) {
    MOD_REQUIRE_GPU();
    const Tensor q = randn_cpu({1, 2, 5, 16}, 1, DType::BF16), k = randn_cpu({1, 1, 5, 16}, 2, DType::BF16);
    EXPECT_THROW(scaled_dot_product_attention(q, k, k, true), DTypeError);  // the CPU computes in float32/64 only
    EXPECT_NO_THROW(scaled_dot_product_attention(q.to(gpu()), k.to(gpu()), k.to(gpu()), true));
}

TEST(CudaAttention, Rope) {
    MOD_REQUIRE_GPU();
    const int64_t B = 2, H = 3, T = 37, Dh = 64;
    // Per-batch positions (B, T) and shared ones (T,), both far from 0 so every frequency turns.
    std::vector<int64_t> per_batch(B * T), shared(T);
    for (int64_t i = 0; i < B * T; ++i) per_batch[i] = (i * 37) % 2000;
    for (int64_t t = 0; t < T; ++t) shared[t] = 1000 + t;
    const Tensor positions[] = {Tensor::from_vector<int64_t>(per_batch, {B, T}), Tensor::from_vector<int64_t>(shared, {T})};
    uint64_t seed = 70;
    for (DType dtype : {DType::F32, DType::F64})
        for (const Tensor& pos : positions)
            for (double theta : {1e4, 1e6}) {
                SCOPED_TRACE(std::string(dtype == DType::F64 ? "float64" : "float32") + " positions " +
                             shape_str(pos.shape()) + " theta " + std::to_string(theta));
                Tensor x = randn_cpu({B, H, T, Dh}, seed++, dtype);
                Tensor grad = randn_cpu({B, H, T, Dh}, seed++, dtype);
                Tensor xg = x.to(gpu()).detach().requires_grad_();
                x.requires_grad_();
                Tensor out = rope(x, pos, theta);
                Tensor out_gpu = rope(xg, pos.to(gpu()), theta);
                // float64: CUDA's and glibc's pow and sincos may differ in the last ulp of
                // angles up to ~2000 rad, i.e. ~1e-12 absolute in cos and sin.
                const testing::Tolerance tol = dtype == DType::F64 ? testing::Tolerance{1e-10, 1e-10}
                                                                   : tolerance_for(dtype);
                EXPECT_GPU_CLOSE(out_gpu, out, tol);
                out.backward(grad);
                out_gpu.backward(grad.to(gpu()));
                ASSERT_TRUE(xg.grad().defined());
                EXPECT_GPU_CLOSE(xg.grad(), x.grad(), tol);
            }
}

}  // namespace
}  // namespace mod
