// CUDA rope and fused attention against the CPU ops on the same random inputs: outputs and
// the gradients of every input through autograd. The attention cases cover the kernels'
// edges: sequence lengths that are not multiples of the tiles (64 rows in float32, 32 in
// float64), the three head-dim buckets (16 -> 32, 64, 128), grouped and multi-query heads,
// a causal KV-cache offset (S > T) and non-causal cross attention.
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
