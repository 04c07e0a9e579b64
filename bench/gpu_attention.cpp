// gpu_attention: the fused attention op alone on a CUDA device, float32 against bfloat16.
//
//   gpu_attention [reps=20]
//
// Two shapes of the real config's training step (configs/real.json), batch 8: the Qwen2-0.5B
// student's self-attention (H=14 query heads over Hkv=2, T=704, Dh=64, causal) and CLIP
// ViT-L/14-336's (H=16, T=577, Dh=64, not causal). Prints the median time of a forward (no
// grad) and of forward + backward (backward alone is their difference) and TFLOP/s, counted
// as the rest of the project counts attention (bench/flops.h): F = 4 B H T S Dh per forward,
// the products Q K^T and P V over the full T x S even under a causal mask, which skips about
// half of it; a backward counts 2.5 F (its five products: S again, dP, dS K, dS^T Q, P^T dO).
// The last column, a sanity check, is the largest |bf16 out - float32 out| over max |out|.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "autograd/grad_mode.h"
#include "bench/gpu_timing.h"
#include "core/attention.h"
#include "core/elementwise.h"
#include "core/random.h"
#include "cuda/memory.h"

namespace {

using namespace mod;
using bench::seconds_on_gpu;

const Device kGpu = Device::cuda(0);

struct AttentionShape {
    const char* label;
    int64_t B, H, Hkv, T, Dh;
    bool causal;
};

struct Timing {
    double forward_s, train_s;
    Tensor out;  // of the last forward, in float32
};

// q (B, H, T, Dh), k and v (B, Hkv, T, Dh) of one seed in `dtype` on the GPU.
Timing time_attention(const AttentionShape& a, DType dtype, int reps) {
    Generator gen(0);
    auto make = [&](int64_t heads) { return randn({a.B, heads, a.T, a.Dh}, gen).to(kGpu).to(dtype); };
    Tensor q = make(a.H), k = make(a.Hkv), v = make(a.Hkv), dout = make(a.H);
    Timing t;
    {
        NoGradGuard no_grad;
        t.forward_s = seconds_on_gpu([&] { t.out = scaled_dot_product_attention(q, k, v, a.causal); }, reps);
    }
    q.requires_grad_();
    k.requires_grad_();
    v.requires_grad_();
    t.train_s = seconds_on_gpu([&] {
        for (const Tensor& x : {q, k, v}) x.zero_grad();
        scaled_dot_product_attention(q, k, v, a.causal).backward(dout);
    }, reps);
    t.out = t.out.to(DType::F32);
    return t;
}

double max_abs(const Tensor& t) {
    double m = 0;
    for (double x : t.to(Device::cpu()).to_vector<double>()) m = std::max(m, std::abs(x));
    return m;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        int reps = 20;
        for (int i = 1; i < argc; ++i) {
            const std::string arg = argv[i];
            MOD_CHECK(arg.rfind("reps=", 0) == 0, ValueError, "gpu_attention", "unknown argument ", arg,
                      " (keys: reps)");
            reps = std::stoi(arg.substr(5));
        }
        MOD_CHECK(cuda::is_available(), DeviceError, "gpu_attention", "a CUDA device expected, none is visible");
        const AttentionShape shapes[] = {
            {"qwen2-0.5b", 8, 14, 2, 704, 64, true},
            {"clip-vit-l", 8, 16, 16, 577, 64, false},
        };
        std::printf("%-11s %-8s %9s %9s %10s %10s %9s %9s %10s\n", "shape", "dtype", "fwd ms", "fwd TF/s",
                    "f+b ms", "f+b TF/s", "bwd ms", "bwd TF/s", "bf16 err");
        for (const AttentionShape& a : shapes) {
            const double F = 4.0 * a.B * a.H * a.T * a.T * a.Dh;
            Tensor reference;
            for (DType dtype : {DType::F32, DType::BF16}) {
                const Timing t = time_attention(a, dtype, reps);
                const double backward_s = t.train_s - t.forward_s;
                char err[32] = "-";
                if (dtype == DType::F32)
                    reference = t.out;
                else
                    std::snprintf(err, sizeof err, "%.1e", max_abs(t.out - reference) / max_abs(reference));
                std::printf("%-11s %-8s %9.3f %9.1f %10.3f %10.1f %9.3f %9.1f %10s\n", a.label, dtype_name(dtype),
                            1e3 * t.forward_s, F / t.forward_s / 1e12, 1e3 * t.train_s, 3.5 * F / t.train_s / 1e12,
                            1e3 * backward_s, 2.5 * F / backward_s / 1e12, err);
            }
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "gpu_attention: %s\n", e.what());
        return 1;
    }
    return 0;
}
