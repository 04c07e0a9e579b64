// The training loop every stage shares, in the order METHOD.md and STYLE.md name it:
// zero-grad, forward, loss, backward, clip, step; then log, checkpoint, repeat.
//
// A job's folder holds its state so that `resume=` continues exactly:
//   <dir>/checkpoint/{model.safetensors, config.json, tokenizer.json, optimizer.safetensors,
//                     trainer_state.json}   the latest checkpoint, replaced as a whole
//   <dir>/metrics.jsonl, <dir>/loss.png
// trainer_state.json records the step, the loader position (epoch, position in the epoch's
// order) and the routing-noise generator offset, so that the losses after a resume equal an
// uninterrupted run's, bit for bit with the same thread count. The position is that of the
// loader the last step read (a curriculum part's up to its last step, data after them all).
#pragma once

#include <functional>
#include <string>

#include "data/batch.h"
#include "models/mllm.h"
#include "nn/optim.h"
#include "text/tokenizer.h"
#include "trainer/options.h"
#include "trainer/progress.h"
#include "trainer/workspace.h"

namespace mod::train {

struct StepResult {
    Tensor loss;   // what backward runs on (already weighted)
    Terms terms;   // what the progress line and metrics show
    int64_t tokens = 0;
};

struct Job {
    std::string name;  // label of the progress line, e.g. "imitation d2s"
    std::string dir;
    models::LlavaModel* model = nullptr;  // checkpointed; its trainable parameters are optimized
    const text::Tokenizer* tokenizer = nullptr;
    LoaderSpec data;
    int64_t steps = 0;
    std::function<StepResult(const data::Batch&)> step;
    Generator* router_gen = nullptr;  // saved and restored with the checkpoint
    // A curriculum inside the one learning-rate schedule: each part reads its data up to its
    // `end` step (1-based, inclusive; ends ascending), each from its first epoch, and the
    // steps after the last part read `data`. Empty: data throughout.
    struct Part {
        LoaderSpec data;
        int64_t end = 0;
    };
    std::vector<Part> curriculum{};
};

// Runs job to its last step (or continues it from its checkpoint when resume is true);
// returns false when Ctrl-C interrupted it (the checkpoint is saved).
bool run_job(const Job& job, const TrainOptions& options, bool resume);

// True when <dir>/checkpoint holds a finished job.
bool job_finished(const std::string& dir);
std::string checkpoint_dir(const std::string& job_dir);

}  // namespace mod::train
