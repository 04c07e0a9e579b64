#include "trainer/training_loop.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/elementwise.h"
#include "models/safetensors.h"
#include "trainer/checkpoint.h"

namespace mod::train {

namespace fs = std::filesystem;

namespace {

// Set by SIGINT. A signal handler can only talk to the program through a global flag.
std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint(int) { g_interrupted = true; }

struct LoopState {
    int64_t step = 0;
    int64_t epoch = 0, position = 0;
    uint64_t router_offset = 0;
    bool finished = false;
};

// Writes the checkpoint into <dir>/checkpoint.tmp, then swaps it in for <dir>/checkpoint,
// so the folder named checkpoint is always complete.
void save_checkpoint(const Job& job, const Optimizer& opt, const LoopState& s) {
    const fs::path dir = checkpoint_dir(job.dir), tmp = dir.string() + ".tmp", old = dir.string() + ".old";
    fs::remove_all(tmp);
    save_model(tmp.string(), *job.model, *job.tokenizer);
    save_safetensors((tmp / "optimizer.safetensors").string(), opt.state_dict());
    nlohmann::json j = {{"step", s.step},         {"epoch", s.epoch},       {"position", s.position},
                        {"router_offset", s.router_offset}, {"finished", s.finished}, {"job", job.name}};
    write_file_atomic((tmp / "trainer_state.json").string(), j.dump(2) + "\n");
    fs::remove_all(old);
    if (fs::exists(dir)) fs::rename(dir, old);
    fs::rename(tmp, dir);
    fs::remove_all(old);
}

LoopState load_state(const std::string& dir) {
    const std::string path = (fs::path(dir) / "trainer_state.json").string();
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(read_text_file(path));
        return {j.at("step").get<int64_t>(), j.at("epoch").get<int64_t>(), j.at("position").get<int64_t>(),
                j.at("router_offset").get<uint64_t>(), j.at("finished").get<bool>()};
    } catch (const nlohmann::json::exception& e) {
        throw IOError(detail::format_error("resume", path, ": a trainer state expected (", e.what(), ")"));
    }
}

bool all_finite(const Terms& terms, std::string* bad) {
    for (const auto& [name, v] : terms)
        if (!std::isfinite(v)) {
            *bad = name;
            return false;
        }
    return true;
}

}  // namespace

std::string checkpoint_dir(const std::string& job_dir) { return (fs::path(job_dir) / "checkpoint").string(); }

bool job_finished(const std::string& dir) {
    const fs::path state = fs::path(checkpoint_dir(dir)) / "trainer_state.json";
    return fs::exists(state) && load_state(checkpoint_dir(dir)).finished;
}

bool run_job(const Job& job, const TrainOptions& o, bool resume) {
    fs::create_directories(job.dir);
    LoopState s;
    AdamWOptions adam;
    adam.lr = o.lr;
    adam.weight_decay = o.weight_decay;
    AdamW opt(job.model->trainable_parameters(), adam);
    if (resume && fs::exists(fs::path(checkpoint_dir(job.dir)) / "trainer_state.json")) {
        s = load_state(checkpoint_dir(job.dir));
        load_weights(checkpoint_dir(job.dir), *job.model);
        opt.load_state_dict(load_safetensors((fs::path(checkpoint_dir(job.dir)) / "optimizer.safetensors").string()).tensors);
        if (job.router_gen) job.router_gen->set_offset(s.router_offset);
        std::fprintf(stderr, "train_mod: %s resumes at step %lld of %lld\n", job.name.c_str(),
                     static_cast<long long>(s.step), static_cast<long long>(job.steps));
    }
    if (s.finished) return true;

    // The loader of the data that step s.step + 1 reads: a curriculum part's until its end, then
    // the job's data; from the saved position, unless that step starts a part or the data.
    const size_t parts = job.curriculum.size();
    size_t part = 0;  // the part step s.step + 1 reads (parts: the job's data)
    while (part < parts && s.step >= job.curriculum[part].end) ++part;
    auto spec_of = [&](size_t p) { return p < parts ? job.curriculum[p].data : job.data; };
    auto starts_at = [&](size_t p) { return p == 0 ? int64_t(0) : job.curriculum[p - 1].end; };
    LoaderSpec spec = spec_of(part);
    const bool starts_now = part > 0 && s.step == starts_at(part);
    spec.start_epoch = starts_now ? 0 : s.epoch;
    spec.start_position = starts_now ? 0 : s.position;
    std::unique_ptr<data::Loader> loader = make_loader(spec, *job.tokenizer, job.model->config);
    int64_t skipped_samples = 0;  // by the loaders of finished parts
    std::string skip_reason;
    for (size_t p = part; p < parts; ++p) {
        if (starts_at(p) == job.curriculum[p].end) continue;  // a part rounded to no steps
        std::fprintf(stderr, "train_mod: %s: steps %lld-%lld read only the %s samples of %s\n", job.name.c_str(),
                     static_cast<long long>(std::max(s.step, starts_at(p)) + 1),
                     static_cast<long long>(job.curriculum[p].end),
                     join_names(job.curriculum[p].data.tasks).c_str(), join_names(job.curriculum[p].data.files).c_str());
    }
    if (part < parts)
        std::fprintf(stderr, "train_mod: %s: steps %lld-%lld read %s\n", job.name.c_str(),
                     static_cast<long long>(job.curriculum.back().end + 1), static_cast<long long>(job.steps),
                     join_names(job.data.files).c_str());
    const CosineSchedule schedule{o.lr, CosineSchedule::warmup_for(job.steps, o.warmup_ratio), job.steps};
    MetricsLog metrics((fs::path(job.dir) / "metrics.jsonl").string(), /*append=*/s.step > 0);
    Progress progress(job.name, s.step, job.steps, o.log_every);
    g_interrupted = false;
    auto previous = std::signal(SIGINT, on_sigint);
    int64_t skipped_steps = 0;
    const int64_t first_step = s.step;
    GradAccumulator accumulation(o.grad_accum);

    while (s.step < job.steps) {
        const bool stop = o.stop_after > 0 && s.step - first_step >= o.stop_after;
        if (g_interrupted || stop) {
            progress.finish();
            save_checkpoint(job, opt, s);
            std::signal(SIGINT, previous);
            std::fprintf(stderr, "train_mod: %s at step %lld; checkpoint saved in %s; continue with resume=%s\n",
                         stop ? "stopped (stop_after)" : "interrupted", static_cast<long long>(s.step),
                         checkpoint_dir(job.dir).c_str(), o.run_root.c_str());
            return false;
        }
        if (part < parts && s.step == job.curriculum[part].end) {
            skipped_samples += loader->skipped();
            skip_reason = loader->last_skip_reason();
            while (part < parts && s.step == job.curriculum[part].end) ++part;  // past parts of no steps too
            spec = spec_of(part);
            loader = make_loader(spec, *job.tokenizer, job.model->config);
        }
        opt.zero_grad();
        const double lr = schedule.lr_at(s.step);
        opt.set_lr(lr);
        Terms shown;
        int64_t tokens = 0;
        bool skip = false;
        do {
            std::optional<data::Batch> batch = loader->next();
            if (!batch) batch = loader->next();  // an epoch ended: the next call starts the next one
            MOD_CHECK(batch.has_value(), ValueError, "train_mod", job.name, ": no full batch of ", spec.batch_size,
                      " samples in ", spec.files.front(), "; lower batch_size");
            s.epoch = batch->epoch;
            s.position = batch->end_position;
            StepResult r = job.step(*batch);
            std::string bad;
            if (!all_finite(r.terms, &bad)) {
                MOD_CHECK(o.skip_nonfinite, ValueError, "train_mod", job.name, ": step ", s.step + 1, ": loss term '",
                          bad, "' is not finite; lower lr, or pass skip_nonfinite=true to skip such batches");
                skip = true;
                break;
            }
            const double scale = accumulation.loss_scale();  // each step sees the mean over its micro-batches
            (r.loss * scale).backward();
            for (const auto& [name, v] : r.terms) {
                auto it = std::find_if(shown.begin(), shown.end(), [&](const auto& t) { return t.first == name; });
                if (it == shown.end()) {
                    shown.emplace_back(name, v * scale);
                } else {
                    it->second += v * scale;
                }
            }
            tokens += r.tokens;
        } while (!accumulation.micro_step());
        if (skip) {
            accumulation = GradAccumulator(o.grad_accum);  // the skipped step's group starts over
            ++skipped_steps;
            ++s.step;
            continue;
        }
        // The gradient norm is taken even without clipping: a finite loss can still have NaN or
        // infinite gradients, and one such step would corrupt every weight it touches.
        const double norm = clip_grad_norm(opt.params(), o.clip > 0 ? o.clip : INFINITY);
        if (!std::isfinite(norm)) {
            MOD_CHECK(o.skip_nonfinite, ValueError, "train_mod", job.name, ": step ", s.step + 1,
                      ": the gradient norm is not finite; lower lr, or pass skip_nonfinite=true to skip such batches");
            accumulation = GradAccumulator(o.grad_accum);
            ++skipped_steps;
            ++s.step;
            continue;
        }
        if (o.clip > 0) shown.emplace_back("grad_norm", norm);
        opt.step();
        ++s.step;
        if (job.router_gen) s.router_offset = job.router_gen->offset();
        progress.update(s.step, shown, lr, tokens);
        if (s.step % o.log_every == 0 || s.step == job.steps) metrics.write(s.step, lr, shown);
        if (s.step % o.save_every == 0 && s.step < job.steps) save_checkpoint(job, opt, s);
    }
    progress.finish();
    std::signal(SIGINT, previous);
    s.finished = true;
    save_checkpoint(job, opt, s);
    if (skipped_steps) std::fprintf(stderr, "train_mod: %s skipped %lld non-finite batches\n", job.name.c_str(),
                                    static_cast<long long>(skipped_steps));
    skipped_samples += loader->skipped();
    if (loader->skipped()) skip_reason = loader->last_skip_reason();
    if (skipped_samples) std::fprintf(stderr, "train_mod: %s skipped %lld bad samples (last: %s)\n", job.name.c_str(),
                                      static_cast<long long>(skipped_samples), skip_reason.c_str());
    plot_metrics((fs::path(job.dir) / "metrics.jsonl").string(), (fs::path(job.dir) / "loss.png").string());
    return true;
}

}  // namespace mod::train
