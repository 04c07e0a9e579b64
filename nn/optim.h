// Optimizers over named parameters (AdamW, SGD with momentum), global-norm gradient
// clipping, the warmup + cosine learning-rate schedule, and gradient accumulation.
//
// Parameters are leaves of float32 or float64 that require grad, as Module::named_parameters()
// returns them; a parameter whose .grad() is undefined is skipped by step() (PyTorch does the same).
// step() writes parameters and optimizer state in place under NoGradGuard and bumps each
// written storage's version once, so a graph that saved a parameter before the step refuses
// to run backward through the stale value.
//
// AdamW (Loshchilov & Hutter 2019, the update torch.optim.AdamW performs), for each
// parameter p with gradient g, at that parameter's step t = 1, 2, ...:
//   p   <- p * (1 - lr * wd)            only where the decay rule says so (decoupled decay)
//   m   <- beta1 * m + (1 - beta1) * g
//   v   <- beta2 * v + (1 - beta2) * g^2
//   p   <- p - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
// in one pass over the elements. m and v have the parameter's dtype (float32 state for
// float32 parameters). t counts the steps that parameter had a gradient, so an expert that
// received no token for a while still gets the right bias correction.
//
// SGD (torch.optim.SGD with dampening 0):
//   g   <- g + wd * p                   L2 decay, only where the decay rule says so
//   b   <- momentum * b + g             (b starts at 0, so the first step has b = g)
//   p   <- p - lr * (nesterov ? g + momentum * b : b)
//
// Gradient accumulation needs no optimizer support: .grad accumulates across backward()
// calls; GradAccumulator says how to scale each micro-batch's loss and when to step.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace mod {

// The same alias as nn/module.h: (name, tensor) pairs in registration order.
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// Which parameters get weight decay. The default decays weight matrices and embeddings only:
// a parameter decays when p.dim() >= 2, its name does not end with ".bias", and no
// dot-separated part of its name contains "norm" (layernorm, input_layernorm, model.norm,
// layer_norm1) or starts with "ln" (GPT-style ln_1, ln_f). Biases and norm gains are
// excluded because shrinking them toward 0 changes the function's scale, not its complexity.
using DecayRule = std::function<bool(const std::string& name, const Tensor& param)>;
bool default_decay_rule(const std::string& name, const Tensor& param);

class Optimizer {
public:
    virtual ~Optimizer() = default;
    Optimizer(const Optimizer&) = delete;
    Optimizer& operator=(const Optimizer&) = delete;

    // Updates every parameter that has a gradient with the current learning rate.
    virtual void step() = 0;
    void zero_grad();  // drops every .grad (the next backward allocates fresh ones)
    void set_lr(double lr);
    double lr() const { return lr_; }
    int64_t steps() const { return steps_; }  // step() calls so far
    const NamedTensors& params() const { return params_; }

    // Copies of the state: "step" (int64 scalar, step() calls) plus the optimizer's
    // per-parameter tensors, e.g. "exp_avg.<param name>". Saved with save_safetensors.
    std::map<std::string, Tensor> state_dict() const;
    // Copies a state_dict back in. Names and shapes must match this optimizer's parameters
    // exactly; otherwise throws ValueError "[load_state_dict] ..." listing every missing,
    // unexpected and mis-shaped name. Values convert to the state's dtype.
    void load_state_dict(const std::map<std::string, Tensor>& state);

protected:
    // Checks that every parameter is a defined, contiguous float32/float64 leaf (CPU or CUDA) that
    // requires grad, with a unique name, and listed once (tied weights appear once).
    Optimizer(NamedTensors params, double lr, const char* op);
    // The live state tensors (aliases, not copies), named as in state_dict(), without "step".
    virtual std::map<std::string, Tensor> state_tensors() const = 0;

    NamedTensors params_;
    double lr_;
    int64_t steps_ = 0;
};

struct AdamWOptions {
    double lr = 1e-3;
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-8;
    double weight_decay = 0.0;  // METHOD.md §2: from the config, default 0
    DecayRule decay_rule = default_decay_rule;
};

// State per parameter: "exp_avg.<name>" (m), "exp_avg_sq.<name>" (v), "step.<name>" (t).
class AdamW : public Optimizer {
public:
    explicit AdamW(NamedTensors params, AdamWOptions options = {});
    void step() override;
    const AdamWOptions& options() const { return options_; }

protected:
    std::map<std::string, Tensor> state_tensors() const override;

private:
    struct State {
        Tensor exp_avg;     // m, the parameter's shape and dtype
        Tensor exp_avg_sq;  // v
        Tensor step;        // int64 scalar: this parameter's t
        bool decay;
    };
    AdamWOptions options_;
    std::vector<State> state_;  // one per parameter, in params_ order
};

struct SGDOptions {
    double lr = 1e-2;
    double momentum = 0.0;
    bool nesterov = false;  // requires momentum > 0
    double weight_decay = 0.0;
    DecayRule decay_rule = default_decay_rule;
};

class SGD : public Optimizer {
public:
    explicit SGD(NamedTensors params, SGDOptions options = {});
    void step() override;
    const SGDOptions& options() const { return options_; }

protected:
    // "momentum_buffer.<param name>" when momentum > 0; nothing otherwise.
    std::map<std::string, Tensor> state_tensors() const override;

private:
    SGDOptions options_;
    std::vector<Tensor> momentum_buffer_;  // one per parameter when momentum > 0
    std::vector<bool> decay_;
};

// Global L2 norm of all defined gradients (a tensor listed twice counts once), summed in double; when it
// exceeds max_norm every gradient is scaled in place by max_norm / (norm + 1e-6)
// (torch.nn.utils.clip_grad_norm_). Returns the norm before clipping. A non-finite norm is returned as is and
// nothing is scaled: the caller decides whether to skip the step.
double clip_grad_norm(const NamedTensors& params, double max_norm);

// Linear warmup then cosine decay, exactly transformers' cosine schedule with min_lr:
//   step <  warmup: lr = base_lr * step / warmup          (0 at step 0, as in the public code)
//   step >= warmup: p = min(1, (step - warmup) / (total - warmup))
//                   lr = min_lr + (base_lr - min_lr) * 0.5 * (1 + cos(pi * p))
struct CosineSchedule {
    double base_lr;
    int64_t warmup_steps;
    int64_t total_steps;
    double min_lr = 0.0;

    double lr_at(int64_t step) const;
    // ceil(ratio * total_steps), how transformers turns warmup_ratio into steps (METHOD.md: 3%).
    static int64_t warmup_for(int64_t total_steps, double ratio = 0.03);
};

// Groups micro-batches into optimizer steps of `every` micro-batches. With total_micro_steps
// known, the last group may be shorter and its losses are scaled by 1 / (its size), so every
// optimizer step sees the mean over its micro-batches.
class GradAccumulator {
public:
    explicit GradAccumulator(int64_t every, int64_t total_micro_steps = -1);
    // The factor for the loss of the micro-batch about to run.
    double loss_scale() const;
    // Records one micro-batch; returns true when the optimizer should step now.
    bool micro_step();
    int64_t micro_steps() const { return done_; }

private:
    int64_t group_size() const;
    int64_t every_;
    int64_t total_;  // -1 when unknown: then every group has `every` micro-batches
    int64_t done_ = 0;
};

}  // namespace mod
