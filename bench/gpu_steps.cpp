// gpu_steps: training steps on a CUDA device, for bench/gpu_check.sh.
//
//   gpu_steps [config=configs/small.json] [precision=f32|bf16] [batch=8] [text=64]
//             [steps=5] [freeze_vision=false] [label=NAME] [profile=false] [json=out.json]
//
// One step = the student MLLM (dense) forward, cross-entropy on every text token, backward,
// AdamW. With freeze_vision=true the ViT runs under no-grad and is not updated (how LLaVA
// trains past its alignment stage). Prints step time (median after a warm-up), tokens/s,
// achieved TFLOP/s (matrix products, bench/flops.h), its share of the card's bf16 matrix
// rate measured here with one large cuBLAS product, and peak device memory. profile=true then
// runs one more step under the op profiler, synchronising around every op, and prints where
// the time went.
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "autograd/grad_mode.h"
#include "bench/flops.h"
#include "bench/gpu_timing.h"
#include "core/loss.h"
#include "core/matmul.h"
#include "core/profile.h"
#include "core/random.h"
#include "cuda/memory.h"
#include "models/mllm.h"
#include "nn/optim.h"

namespace {

using namespace mod;
using bench::seconds_on_gpu;

const Device kGpu = Device::cuda(0);

// The card's bf16 tensor-core rate through our matmul: an 8192^3 product.
double measured_bf16_tflops() {
    const int64_t n = 8192;
    Generator gen(0);
    Tensor a = randn({n, n}, gen).to(kGpu).to(DType::BF16), b = randn({n, n}, gen).to(kGpu).to(DType::BF16);
    const double s = seconds_on_gpu([&] { matmul(a, b); }, 10);
    return 2.0 * n * n * n / s / 1e12;
}

struct Args {
    std::map<std::string, std::string> values{{"config", "configs/small.json"}, {"precision", "f32"},
                                              {"batch", "8"}, {"text", "64"}, {"steps", "5"},
                                              {"freeze_vision", "false"}, {"label", ""}, {"profile", "false"},
                                              {"json", ""}};
    void parse(int argc, char** argv) {
        for (int i = 1; i < argc; ++i) {
            const std::string a = argv[i];
            const size_t eq = a.find('=');
            if (eq == std::string::npos || !values.count(a.substr(0, eq))) {
                std::string keys;
                for (const auto& [k, v] : values) keys += " " + k;
                throw ValueError(detail::format_error("gpu_steps", "unknown argument ", a, " (keys:", keys, ")"));
            }
            values[a.substr(0, eq)] = a.substr(eq + 1);
        }
    }
    const std::string& operator[](const std::string& k) const { return values.at(k); }
};

}  // namespace

int main(int argc, char** argv) {
    try {
        Args args;
        args.parse(argc, argv);
        MOD_CHECK(cuda::is_available(), DeviceError, "gpu_steps", "a CUDA device expected, none is visible");
        const bool bf16 = args["precision"] == "bf16";
        MOD_CHECK(bf16 || args["precision"] == "f32", ValueError, "gpu_steps", "precision f32 or bf16 expected, got ",
                  args["precision"]);
        const bool freeze_vision = args["freeze_vision"] == "true";
        const int64_t B = std::stoll(args["batch"]), text = std::stoll(args["text"]);
        const int steps = std::stoi(args["steps"]);

        const models::ModelFamilyConfig family = models::load_family_config(args["config"]);
        models::MllmConfig c = family.student_mllm(false);
        c.image_token_id = 0;
        Generator gen(0);
        models::LlavaModel student(c, gen);
        student.to(kGpu);
        if (bf16) student.set_compute_dtype(DType::BF16);
        student.set_requires_grad("*", true);
        if (freeze_vision) student.set_requires_grad("model.vision_tower.*", false);

        // B rows of P image positions then `text` tokens, every text token supervised.
        const int64_t P = c.vision.num_patches(), T = P + text, V = c.lm.vocab_size;
        std::vector<int64_t> ids(B * T);
        for (int64_t b = 0; b < B; ++b)
            for (int64_t t = 0; t < T; ++t) ids[b * T + t] = t < P ? 0 : 1 + (b * 131 + t * 17) % (V - 1);
        const Tensor input_ids = Tensor::from_vector<int64_t>(ids, {B, T}).to(kGpu);
        const Tensor targets = input_ids.narrow(1, P, text).reshape({-1});
        const Tensor pixels = randn({B, 3, c.vision.image_size, c.vision.image_size}, gen).to(kGpu);

        AdamW opt(student.trainable_parameters(), AdamWOptions{});
        auto step = [&] {
            opt.zero_grad();
            Tensor logits = student.forward(input_ids, pixels).logits;  // (B, T, V)
            Tensor predicted = logits.narrow(1, P - 1, text).reshape({-1, V});
            cross_entropy(predicted, targets).backward();
            opt.step();
        };
        const double F_lm = bench::lm_forward_flops(c, false, B, T), F_vit = bench::vision_forward_flops(c.vision, B);
        const double flops = 3 * F_lm + (freeze_vision ? 1 : 3) * F_vit;

        cuda::reset_peak_memory(0);
        const double s = seconds_on_gpu(step, steps);
        const double peak_gib = cuda::memory_stats(0).peak_allocated / double(1 << 30);
        const double rate = measured_bf16_tflops();
        const double tflops = flops / s / 1e12;
        const std::string label = args["label"].empty() ? args["config"] : args["label"];
        std::printf("%-14s %-5s %9.4f %11.0f %9.1f %10.1f %7.1f%% %9.2f\n", label.c_str(), args["precision"].c_str(),
                    s, B * T / s, flops / 1e12, tflops, 100 * tflops / rate, peak_gib);
        if (args["profile"] == "true") {
            Profile p(0);
            {
                ProfileGuard guard(p);
                step();
            }
            std::printf("\n%s profile (one step, synchronised per op, self times):\n%s\n", label.c_str(),
                        p.table(25).c_str());
        }
        if (!args["json"].empty()) {
            nlohmann::ordered_json j = {{"label", label},           {"precision", args["precision"]},
                                        {"batch", B},               {"tokens_per_row", T},
                                        {"step_seconds", s},        {"tokens_per_second", B * T / s},
                                        {"tflop_per_step", flops / 1e12}, {"tflop_per_second", tflops},
                                        {"bf16_matmul_tflops", rate}, {"peak_gib", peak_gib}};
            std::ofstream(args["json"]) << j.dump(2) << '\n';
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "gpu_steps: %s\n", e.what());
        return 1;
    }
    return 0;
}
