// model_bench: forward and forward+backward time of the small config's teacher (dense) and
// student (dense, and sparse after upcycling) on the step shape: batch 8, 64 image
// positions + 64 text positions, every text position supervised. Medians of repeated runs.
//   model_bench [config=configs/small.json] [reps=5]
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "autograd/grad_mode.h"
#include "bench/timing.h"
#include "core/loss.h"
#include "core/runtime.h"
#include "models/mllm.h"

int main(int argc, char** argv) {
    using namespace mod;
    use_short_openmp_spin(argv);
    std::string config_path = "configs/small.json";
    int reps = 5;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a.rfind("config=", 0) == 0) config_path = a.substr(7);
        if (a.rfind("reps=", 0) == 0) reps = std::max(1, std::stoi(a.substr(5)));
    }
    try {
        models::ModelFamilyConfig family = models::load_family_config(config_path);
        const int64_t B = 8, text = 64;
        Generator gen(0);
        std::printf("config %s, threads %d, batch %lld x (P + %lld text tokens)\n", config_path.c_str(),
                    omp_get_max_threads(), static_cast<long long>(B), static_cast<long long>(text));
        std::printf("%-16s %12s %10s %12s %12s\n", "model", "params", "P", "forward s", "fwd+bwd s");
        auto bench = [&](const char* name, models::LlavaModel& m) {
            const int64_t P = m.config.vision.num_patches(), T = P + text, V = m.config.lm.vocab_size;
            std::vector<int64_t> ids(B * T), labels(B * T, -100);
            for (int64_t b = 0; b < B; ++b)
                for (int64_t t = 0; t < T; ++t) {
                    ids[b * T + t] = t < P ? m.config.image_token_id : 1 + (b * 31 + t * 7) % (V - 1);
                    if (t >= P) labels[b * T + t] = ids[b * T + t];
                }
            Tensor input = Tensor::from_vector<int64_t>(ids, {B, T});
            Tensor target = Tensor::from_vector<int64_t>(labels, {B, T}).narrow(1, 1, T - 1).contiguous().reshape({-1});
            Tensor pixels = randn({B, 3, m.config.vision.image_size, m.config.vision.image_size}, gen);
            auto loss = [&] {
                Tensor logits = m.forward(input, pixels).logits.narrow(1, 0, T - 1).reshape({-1, V});
                return cross_entropy(logits, target);
            };
            const double fwd = mod::bench::median_seconds([&] { NoGradGuard g; loss(); }, reps);
            const double both = mod::bench::median_seconds([&] {
                loss().backward();
                for (auto& [n, p] : m.named_parameters()) p.zero_grad();
            }, reps);
            std::printf("%-16s %12lld %10lld %12.3f %12.3f\n", name, static_cast<long long>(m.num_parameters()),
                        static_cast<long long>(P), fwd, both);
        };
        models::MllmConfig tc = family.teacher_mllm();
        tc.image_token_id = 0;
        models::LlavaModel teacher(tc, gen);
        bench("teacher", teacher);
        models::MllmConfig sc = family.student_mllm(false);
        sc.image_token_id = 0;
        models::LlavaModel student(sc, gen, teacher.model->vision_tower->vision_tower);
        bench("student dense", student);
        student.upcycle(gen);
        bench("student MoE", student);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "model_bench: %s\n", e.what());
        return 1;
    }
    return 0;
}
