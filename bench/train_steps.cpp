// train_steps: the three training steps of the CPU-speed issue on the small config, float32,
// all cores. Batch 8, each sequence 64 image positions + 64 text tokens, every text token
// supervised; MoE (E=4, K=2, dropless) on every other student layer.
//   W1  dense student SFT: forward, CE, backward, AdamW, everything trainable
//   W2  dense-to-sparse imitation: teacher forward (no grad), MoE student forward,
//       KD + CE + aux, backward, AdamW; trainable = projector + LM MLPs + routers
//   W3  preference on 8 pairs (32 prompt + 32 response tokens each, chosen and rejected as one
//       batch of 16): teacher forward, student forward and backward, DPO + aux, AdamW
// Prints the median step time (after a warm-up step), tokens/s, GFLOP per step, achieved
// GFLOP/s and the process's peak RSS so far; JSON with json=PATH. profile=true then runs one
// more step under the op profiler (core/profile.h) and prints where its time went, with the
// share of matrix products (matmul, grouped_matmul, conv2d) against everything else.
//   train_steps [config=configs/small.json] [workload=W1|W2|W3|all] [steps=5] [profile=false]
//               [json=out.json]
//
// GFLOP per step counts matrix products only (bench/flops.h), as the issue does: the LM head at
// every position and attention on the full T x T. The steps run the head only at the loss rows
// and skip masked attention blocks, so GFLOP/s is a nominal rate that compares runs.
#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "autograd/grad_mode.h"
#include "bench/flops.h"
#include "bench/timing.h"
#include "core/cpu/blas.h"
#include "core/elementwise.h"
#include "core/profile.h"
#include "core/runtime.h"
#include "core/view.h"
#include "models/mllm.h"
#include "nn/optim.h"
#include "trainer/batch_tensors.h"
#include "trainer/losses.h"
#include "trainer/pair_logits.h"

namespace {

using namespace mod;
using bench::lm_forward_flops;
using bench::vision_forward_flops;

long peak_rss_mib() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss / 1024;
}

struct Batch {
    train::ModelInputs in;
    int64_t B, T;
};

// B rows of 64 image positions then `text` tokens; with `pairs`, rows b and b + B/2 share
// image and the first `prompt` text tokens (chosen / rejected).
Batch make_batch(const models::MllmConfig& c, int64_t B, int64_t text, int64_t prompt, bool pairs, Generator& gen) {
    const int64_t P = c.vision.num_patches(), T = P + text, V = c.lm.vocab_size;
    std::vector<int64_t> ids(B * T), labels(B * T, -100);
    for (int64_t b = 0; b < B; ++b) {
        const int64_t src = pairs ? b % (B / 2) : b;
        for (int64_t t = 0; t < T; ++t) {
            const bool response = t >= P + prompt;
            const int64_t seed = response && pairs ? b : src;
            ids[b * T + t] = t < P ? c.image_token_id : 1 + (seed * 131 + t * 17) % (V - 1);
            if (response) labels[b * T + t] = ids[b * T + t];
        }
    }
    train::ModelInputs in;
    in.input_ids = Tensor::from_vector<int64_t>(ids, {B, T});
    in.labels = Tensor::from_vector<int64_t>(labels, {B, T});
    const Tensor images = randn({pairs ? B / 2 : B, 3, c.vision.image_size, c.vision.image_size}, gen);
    in.pixels = pairs ? cat({images, images}, 0) : images;
    in.tokens = B * T;
    return {in, B, T};
}

}  // namespace

int main(int argc, char** argv) {
    use_short_openmp_spin(argv);
    std::string config_path = "configs/small.json", workload = "all", json_path;
    int steps = 5;
    bool profile = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a.rfind("config=", 0) == 0) config_path = a.substr(7);
        else if (a.rfind("workload=", 0) == 0) workload = a.substr(9);
        else if (a.rfind("steps=", 0) == 0) steps = std::max(1, std::stoi(a.substr(6)));
        else if (a.rfind("json=", 0) == 0) json_path = a.substr(5);
        else if (a.rfind("profile=", 0) == 0) profile = a.substr(8) == "true";
        else {
            std::fprintf(stderr, "train_steps: unknown argument %s (keys: config workload steps profile json)\n", a.c_str());
            return 1;
        }
    }
    try {
        const models::ModelFamilyConfig family = models::load_family_config(config_path);
        Generator gen(0);
        models::MllmConfig tc = family.teacher_mllm(), sc = family.student_mllm(false);
        tc.image_token_id = sc.image_token_id = 0;
        models::LlavaModel teacher(tc, gen);
        teacher.eval();
        teacher.set_requires_grad("*", false);
        nlohmann::ordered_json report = nlohmann::ordered_json::array();
        std::printf("threads: %d, GEMM: %s\n", omp_get_max_threads(), cpu::gemm_backend_name().c_str());
        std::printf("%-4s %10s %10s %10s %10s %10s\n", "", "step s", "tokens/s", "GFLOP", "GFLOP/s", "peak MiB");
        auto run = [&](const char* name, models::LlavaModel& student, const Batch& batch, double gflop,
                       const std::function<Tensor()>& loss) {
            AdamW opt(student.trainable_parameters(), AdamWOptions{});
            auto step = [&] {
                opt.zero_grad();
                loss().backward();
                opt.step();
            };
            const double s = bench::median_seconds(step, steps);
            const double tok = static_cast<double>(batch.in.tokens) / s;
            std::printf("%-4s %10.3f %10.0f %10.1f %10.1f %10ld\n", name, s, tok, gflop, gflop / s, peak_rss_mib());
            nlohmann::ordered_json row = {{"workload", name},           {"step_seconds", s},
                                          {"tokens_per_second", tok},  {"gflop_per_step", gflop},
                                          {"gflop_per_second", gflop / s}, {"peak_rss_mib", peak_rss_mib()},
                                          {"gemm_backend", cpu::gemm_backend_name()}};
            if (profile) {
                Profile p;
                {
                    ProfileGuard guard(p);
                    step();
                }
                // The products of a backward pass are the self time of "<op> backward" when the
                // node calls the kernels itself (grouped_matmul, conv2d), of "matmul" otherwise.
                double gemm = 0;
                for (const std::string op : {"matmul", "grouped_matmul", "conv2d"})
                    for (const std::string& entry : {op, op + " backward"})
                        if (p.entries().count(entry)) gemm += p.entries().at(entry).seconds;
                std::printf("\n%s profile (one step, self times):\n%s", name, p.table().c_str());
                std::printf("%s: matrix products %.1f%% of the step, everything else %.1f%%\n\n", name,
                            100 * gemm / p.total_seconds(), 100 - 100 * gemm / p.total_seconds());
                nlohmann::ordered_json ops;
                for (const auto& [op, e] : p.entries()) ops[op] = {{"ms", e.seconds * 1e3}, {"calls", e.calls}};
                row["profile"] = ops;
                row["gemm_share"] = gemm / p.total_seconds();
            }
            report.push_back(row);
        };
        const bool all = workload == "all";
        if (all || workload == "W1") {
            models::LlavaModel student(sc, gen, teacher.model->vision_tower->vision_tower);
            student.set_requires_grad("*", true);
            const Batch b = make_batch(sc, 8, 64, 0, false, gen);
            const double F = lm_forward_flops(sc, false, b.B, b.T) + vision_forward_flops(sc.vision, b.B);
            const train::LabelPositions pos = train::shifted_positions(b.in.labels);
            run("W1", student, b, 3 * F / 1e9, [&] {
                return train::response_cross_entropy(
                    student.forward(b.in.input_ids, b.in.pixels, Tensor(), nullptr, nullptr, pos.rows).logits, pos);
            });
        }
        for (const char* w : {"W2", "W3"}) {
            if (!all && workload != w) continue;
            const bool preference = std::string(w) == "W3";
            models::LlavaModel student(sc, gen, teacher.model->vision_tower->vision_tower);
            student.upcycle(gen);
            student.set_requires_grad("*", false);
            student.set_requires_grad("model.layers.*.mlp.*", true);
            student.set_requires_grad("model.mm_projector.*", true);
            const Batch b = preference ? make_batch(sc, 16, 64, 32, true, gen) : make_batch(sc, 8, 64, 0, false, gen);
            const double F = lm_forward_flops(tc, false, b.B, b.T) + vision_forward_flops(tc.vision, b.B) +
                             3 * lm_forward_flops(sc, true, b.B, b.T) + vision_forward_flops(sc.vision, b.B);
            const train::LabelPositions pos = train::shifted_positions(b.in.labels);
            Generator router(1);
            run(w, student, b, F / 1e9, [&] {
                Tensor t;
                {
                    NoGradGuard no_grad;
                    t = preference ? train::pair_logits(teacher, b.in, pos.rows)
                                   : teacher.forward(b.in.input_ids, b.in.pixels, Tensor(), nullptr, nullptr, pos.rows).logits;
                }
                models::MllmOutput out =
                    student.forward(b.in.input_ids, b.in.pixels, Tensor(), nullptr, &router, pos.rows);
                Tensor aux = out.moe.aux * sc.moe.aux_coef;
                if (!preference)
                    return train::distillation_loss(out.logits, t, pos, 1.0) +
                           train::response_cross_entropy(out.logits, pos) + aux;
                return train::preference_loss("dpo", train::sequence_log_probs(out.logits, pos, b.B),
                                              train::sequence_log_probs(t, pos, b.B), 0.1)
                           .loss + aux;
            });
        }
        if (!json_path.empty()) std::ofstream(json_path) << report.dump(2) << '\n';
    } catch (const std::exception& e) {
        std::fprintf(stderr, "train_steps: %s\n", e.what());
        return 1;
    }
    return 0;
}
