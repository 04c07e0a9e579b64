// Optimizers, clipping and schedules; the formulas are in nn/optim.h.
//
// Updates read and write raw parameter memory (parameters are checked contiguous at
// construction) in one pass per parameter, split over threads by element ranges. Every
// element's arithmetic is independent of the split, so results do not depend on the
// thread count.
#include "nn/optim.h"

#include <cmath>
#include <set>
#include <sstream>

#include "autograd/grad_mode.h"
#include "core/cpu/loops.h"
#include "core/profile.h"
#include "cuda/optim.h"

namespace mod {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The gradient of p as a contiguous tensor of p's dtype, or undefined when p has none.
Tensor dense_grad(const std::string& name, const Tensor& p, const char* op) {
    Tensor g = p.grad();
    if (!g.defined()) return g;
    MOD_CHECK(g.dtype() == p.dtype(), DTypeError, op, "gradient of ", name, " in ", dtype_name(p.dtype()),
              " expected, got ", dtype_name(g.dtype()));
    check_same_device(g, p, op);
    return g.contiguous();
}

int64_t& step_count(const Tensor& step) { return *step.data<int64_t>(); }

}  // namespace

bool default_decay_rule(const std::string& name, const Tensor& param) {
    if (param.dim() < 2 || ends_with(name, ".bias")) return false;
    std::istringstream parts(name);
    std::string part;
    while (std::getline(parts, part, '.')) {
        if (part.find("norm") != std::string::npos || part.rfind("ln", 0) == 0) return false;
    }
    return true;
}

// ---------------------------------------------------------------------------------------
// Optimizer

Optimizer::Optimizer(NamedTensors params, double lr, const char* op) : params_(std::move(params)), lr_(lr) {
    MOD_CHECK(std::isfinite(lr) && lr >= 0, ValueError, op, "a finite lr >= 0 expected, got ", lr);
    std::set<std::string> seen;
    std::map<const TensorImpl*, std::string> tensors;
    for (const auto& [name, p] : params_) {
        MOD_CHECK(seen.insert(name).second, ValueError, op, "unique parameter names expected, got ", name,
                  " twice");
        check_defined(p, op, name.c_str());
        // Listed twice, a tensor would be updated twice per step.
        const auto [it, inserted] = tensors.emplace(p.impl(), name);
        MOD_CHECK(inserted, ValueError, op, "each tensor listed once expected, got ", it->second, " and ",
                  name, " for one tensor (list tied weights once)");
        MOD_CHECK(p.dtype() == DType::F32 || p.dtype() == DType::F64, DTypeError, op,
                  "float32 or float64 parameters expected, got ", dtype_name(p.dtype()), " for ", name);
        MOD_CHECK(p.is_leaf() && p.requires_grad(), ValueError, op,
                  "leaf parameters that require grad expected, got ", name,
                  p.is_leaf() ? " (requires_grad false)" : " (not a leaf)");
        MOD_CHECK(p.is_contiguous(), ValueError, op,
                  "contiguous parameters expected, got a strided view for ", name);
    }
}

void Optimizer::zero_grad() {
    for (auto& entry : params_) entry.second.zero_grad();
}

void Optimizer::set_lr(double lr) {
    MOD_CHECK(std::isfinite(lr) && lr >= 0, ValueError, "set_lr", "a finite lr >= 0 expected, got ", lr);
    lr_ = lr;
}

std::map<std::string, Tensor> Optimizer::state_dict() const {
    std::map<std::string, Tensor> out;
    for (const auto& [name, t] : state_tensors()) out.emplace(name, t.clone());
    out.emplace("step", Tensor::scalar(static_cast<double>(steps_), DType::I64));
    return out;
}

void Optimizer::load_state_dict(const std::map<std::string, Tensor>& state) {
    std::map<std::string, Tensor> live = state_tensors();
    live.emplace("step", Tensor::scalar(0.0, DType::I64));
    std::vector<std::string> missing, unexpected, misshaped;
    for (const auto& [name, t] : live) {
        auto it = state.find(name);
        if (it == state.end()) {
            missing.push_back(name);
        } else if (!it->second.defined() || it->second.shape() != t.shape()) {
            misshaped.push_back(name + " " + shape_str(t.shape()) + " expected, got " +
                                (it->second.defined() ? shape_str(it->second.shape()) : "undefined"));
        }
    }
    for (const auto& entry : state)
        if (!live.count(entry.first)) unexpected.push_back(entry.first);
    if (!missing.empty() || !unexpected.empty() || !misshaped.empty()) {
        std::ostringstream msg;
        auto list = [&msg](const char* what, const std::vector<std::string>& names) {
            if (names.empty()) return;
            msg << "; " << what << ":";
            for (const std::string& n : names) msg << ' ' << n;
        };
        msg << "the optimizer state of these " << params_.size() << " parameters expected";
        list("missing", missing);
        list("unexpected", unexpected);
        list("mis-shaped", misshaped);
        throw ValueError(detail::format_error("load_state_dict", msg.str()));
    }
    NoGradGuard no_grad;
    for (auto& [name, t] : live) {
        if (name != "step") t.copy_(state.at(name));
    }
    steps_ = static_cast<int64_t>(state.at("step").item());
}

// ---------------------------------------------------------------------------------------
// AdamW

namespace {

struct AdamWCoefs {
    double lr, beta1, beta2, eps, decay_factor, bias_correction1, bias_correction2_sqrt;
};

// The update of elements [begin, end). The arrays never overlap, and saying so (restrict, the
// coefficients by value) is what lets the compiler vectorise the loop: without it every store
// might change a coefficient or another array, and the loop stayed scalar (2.5x slower).
template <typename T>
void adamw_range(T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v, int64_t begin,
                 int64_t end, const T beta1, const T one_minus_beta1, const T beta2, const T one_minus_beta2,
                 const T decay, const T eps, const T step_size, const T bc2_sqrt) {
    for (int64_t i = begin; i < end; ++i) {
        const T gi = g[i];
        const T mi = beta1 * m[i] + one_minus_beta1 * gi;
        const T vi = beta2 * v[i] + one_minus_beta2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] * decay - step_size * mi / (std::sqrt(vi) / bc2_sqrt + eps);
    }
}

// One fused pass: m, v and p updated in place. T is the parameter and state type.
template <typename T>
void adamw_update(T* p, const T* g, T* m, T* v, int64_t n, const AdamWCoefs& c) {
    const T beta1 = static_cast<T>(c.beta1), beta2 = static_cast<T>(c.beta2);
    const T one_minus_beta1 = static_cast<T>(1 - c.beta1), one_minus_beta2 = static_cast<T>(1 - c.beta2);
    const T decay = static_cast<T>(c.decay_factor), eps = static_cast<T>(c.eps);
    const T step_size = static_cast<T>(c.lr / c.bias_correction1);
    const T bc2_sqrt = static_cast<T>(c.bias_correction2_sqrt);
    cpu::parallel_for(n, cpu::kParallelGrain, [=](int64_t begin, int64_t end) {
        adamw_range(p, g, m, v, begin, end, beta1, one_minus_beta1, beta2, one_minus_beta2, decay, eps, step_size,
                    bc2_sqrt);
    });
}

}  // namespace

AdamW::AdamW(NamedTensors params, AdamWOptions options)
    : Optimizer(std::move(params), options.lr, "AdamW"), options_(std::move(options)) {
    MOD_CHECK(options_.beta1 >= 0 && options_.beta1 < 1 && options_.beta2 >= 0 && options_.beta2 < 1,
              ValueError, "AdamW", "betas in [0, 1) expected, got ", options_.beta1, " and ", options_.beta2);
    MOD_CHECK(options_.eps > 0 && options_.weight_decay >= 0, ValueError, "AdamW",
              "eps > 0 and weight_decay >= 0 expected, got ", options_.eps, " and ", options_.weight_decay);
    MOD_CHECK(static_cast<bool>(options_.decay_rule), ValueError, "AdamW",
              "a decay rule expected, got an empty function");
    state_.reserve(params_.size());
    for (const auto& [name, p] : params_) {
        state_.push_back({Tensor::zeros(p.shape(), p.dtype(), p.device()), Tensor::zeros(p.shape(), p.dtype(), p.device()),
                          Tensor::scalar(0.0, DType::I64), options_.decay_rule(name, p)});
    }
}

void AdamW::step() {
    OpTimer timer("AdamW.step");
    NoGradGuard no_grad;
    for (size_t i = 0; i < params_.size(); ++i) {
        const auto& [name, p] = params_[i];
        const Tensor g = dense_grad(name, p, "AdamW.step");
        if (!g.defined()) continue;
        State& s = state_[i];
        const int64_t t = ++step_count(s.step);
        const AdamWCoefs c{lr_,
                           options_.beta1,
                           options_.beta2,
                           options_.eps,
                           s.decay ? 1.0 - lr_ * options_.weight_decay : 1.0,
                           1.0 - std::pow(options_.beta1, static_cast<double>(t)),
                           std::sqrt(1.0 - std::pow(options_.beta2, static_cast<double>(t)))};
        if (p.device().is_cuda()) {
            cuda::adamw_update(p, g, s.exp_avg, s.exp_avg_sq, c.beta1, c.beta2, c.eps, c.decay_factor,
                               c.lr / c.bias_correction1, c.bias_correction2_sqrt);
        } else {
            dispatch_float(p.dtype(), "AdamW.step", [&](auto zero) {
                using T = decltype(zero);
                adamw_update<T>(p.data<T>(), g.data<T>(), s.exp_avg.data<T>(), s.exp_avg_sq.data<T>(), p.numel(),
                                c);
            });
        }
        p.storage()->bump_version();
        s.exp_avg.storage()->bump_version();
        s.exp_avg_sq.storage()->bump_version();
        s.step.storage()->bump_version();
    }
    ++steps_;
}

std::map<std::string, Tensor> AdamW::state_tensors() const {
    std::map<std::string, Tensor> out;
    for (size_t i = 0; i < params_.size(); ++i) {
        const std::string& name = params_[i].first;
        out.emplace("exp_avg." + name, state_[i].exp_avg);
        out.emplace("exp_avg_sq." + name, state_[i].exp_avg_sq);
        out.emplace("step." + name, state_[i].step);
    }
    return out;
}

// ---------------------------------------------------------------------------------------
// SGD

namespace {

template <typename T>
void sgd_update(T* p, const T* g, T* buf, int64_t n, double lr, double momentum, bool nesterov, double wd) {
    const T lr_t = static_cast<T>(lr), mu = static_cast<T>(momentum), wd_t = static_cast<T>(wd);
    cpu::parallel_for(n, cpu::kParallelGrain, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
            const T gi = g[i] + wd_t * p[i];
            T d = gi;
            if (buf) {
                buf[i] = mu * buf[i] + gi;
                d = nesterov ? gi + mu * buf[i] : buf[i];
            }
            p[i] -= lr_t * d;
        }
    });
}

}  // namespace

SGD::SGD(NamedTensors params, SGDOptions options)
    : Optimizer(std::move(params), options.lr, "SGD"), options_(std::move(options)) {
    MOD_CHECK(options_.momentum >= 0 && options_.weight_decay >= 0, ValueError, "SGD",
              "momentum >= 0 and weight_decay >= 0 expected, got ", options_.momentum, " and ",
              options_.weight_decay);
    MOD_CHECK(!options_.nesterov || options_.momentum > 0, ValueError, "SGD",
              "momentum > 0 expected with nesterov, got ", options_.momentum);
    MOD_CHECK(static_cast<bool>(options_.decay_rule), ValueError, "SGD",
              "a decay rule expected, got an empty function");
    for (const auto& [name, p] : params_) {
        decay_.push_back(options_.decay_rule(name, p));
        if (options_.momentum > 0) momentum_buffer_.push_back(Tensor::zeros(p.shape(), p.dtype(), p.device()));
    }
}

void SGD::step() {
    NoGradGuard no_grad;
    for (size_t i = 0; i < params_.size(); ++i) {
        const auto& [name, p] = params_[i];
        const Tensor g = dense_grad(name, p, "SGD.step");
        if (!g.defined()) continue;
        const double wd = decay_[i] ? options_.weight_decay : 0.0;
        const Tensor buf = momentum_buffer_.empty() ? Tensor() : momentum_buffer_[i];
        if (p.device().is_cuda()) {
            cuda::sgd_update(p, g, buf, lr_, options_.momentum, options_.nesterov, wd);
        } else {
            dispatch_float(p.dtype(), "SGD.step", [&](auto zero) {
                using T = decltype(zero);
                sgd_update<T>(p.data<T>(), g.data<T>(), buf.defined() ? buf.data<T>() : nullptr, p.numel(), lr_,
                              options_.momentum, options_.nesterov, wd);
            });
        }
        p.storage()->bump_version();
        if (buf.defined()) buf.storage()->bump_version();
    }
    ++steps_;
}

std::map<std::string, Tensor> SGD::state_tensors() const {
    std::map<std::string, Tensor> out;
    for (size_t i = 0; i < momentum_buffer_.size(); ++i)
        out.emplace("momentum_buffer." + params_[i].first, momentum_buffer_[i]);
    return out;
}

// ---------------------------------------------------------------------------------------
// Clipping

namespace {

// Sum of squares in double over fixed chunks: the chunk partials are added in chunk order,
// so the total is the same for any thread count.
template <typename T>
double sum_of_squares(const T* x, int64_t n) {
    constexpr int64_t kChunk = 1 << 16;
    const int64_t chunks = (n + kChunk - 1) / kChunk;
    std::vector<double> partial(static_cast<size_t>(chunks), 0.0);
    cpu::parallel_for(chunks, 1, [&](int64_t begin, int64_t end) {
        for (int64_t c = begin; c < end; ++c) {
            double s = 0.0;
            const int64_t e = std::min(n, (c + 1) * kChunk);
            for (int64_t i = c * kChunk; i < e; ++i)
                s += static_cast<double>(x[i]) * static_cast<double>(x[i]);
            partial[static_cast<size_t>(c)] = s;
        }
    });
    double total = 0.0;
    for (double s : partial) total += s;
    return total;
}

}  // namespace

double clip_grad_norm(const NamedTensors& params, double max_norm) {
    OpTimer timer("clip_grad_norm");
    MOD_CHECK(max_norm > 0, ValueError, "clip_grad_norm", "max_norm > 0 expected, got ", max_norm);
    NoGradGuard no_grad;
    std::vector<Tensor> grads;
    std::set<const TensorImpl*> seen;
    double squares = 0.0;
    for (const auto& [name, p] : params) {
        Tensor g = p.grad();
        if (!g.defined() || !seen.insert(p.impl()).second) continue;
        // Scaling happens in place, so a strided gradient is first replaced by a dense copy.
        if (!g.is_contiguous()) {
            g = g.contiguous();
            p.set_grad(g);
        }
        if (g.device().is_cuda()) {
            squares += cuda::sum_of_squares(g);
        } else {
            dispatch_float(g.dtype(), "clip_grad_norm", [&](auto zero) {
                using T = decltype(zero);
                squares += sum_of_squares(g.data<T>(), g.numel());
            });
        }
        grads.push_back(g);
    }
    const double norm = std::sqrt(squares);
    if (!std::isfinite(norm) || norm <= max_norm) return norm;
    const double scale = max_norm / (norm + 1e-6);
    for (const Tensor& g : grads) {
        if (g.device().is_cuda()) {
            cuda::scale_(g, scale);
        } else {
            dispatch_float(g.dtype(), "clip_grad_norm", [&](auto zero) {
                using T = decltype(zero);
                T* x = g.data<T>();
                const T s = static_cast<T>(scale);
                cpu::parallel_for(g.numel(), cpu::kParallelGrain, [&](int64_t begin, int64_t end) {
                    for (int64_t i = begin; i < end; ++i) x[i] *= s;
                });
            });
        }
        g.storage()->bump_version();
    }
    return norm;
}

// ---------------------------------------------------------------------------------------
// Schedules and accumulation

double CosineSchedule::lr_at(int64_t step) const {
    MOD_CHECK(step >= 0, ValueError, "CosineSchedule", "step >= 0 expected, got ", step);
    if (step < warmup_steps) return base_lr * static_cast<double>(step) / static_cast<double>(warmup_steps);
    const double span = static_cast<double>(std::max<int64_t>(1, total_steps - warmup_steps));
    const double progress = std::min(1.0, static_cast<double>(step - warmup_steps) / span);
    const double pi = std::acos(-1.0);
    return min_lr + (base_lr - min_lr) * 0.5 * (1.0 + std::cos(pi * progress));
}

int64_t CosineSchedule::warmup_for(int64_t total_steps, double ratio) {
    MOD_CHECK(total_steps >= 0 && ratio >= 0 && ratio <= 1, ValueError, "CosineSchedule",
              "total_steps >= 0 and ratio in [0, 1] expected, got ", total_steps, " and ", ratio);
    return static_cast<int64_t>(std::ceil(static_cast<double>(total_steps) * ratio));
}

GradAccumulator::GradAccumulator(int64_t every, int64_t total_micro_steps)
    : every_(every), total_(total_micro_steps) {
    MOD_CHECK(every >= 1, ValueError, "GradAccumulator", "every >= 1 expected, got ", every);
    MOD_CHECK(total_micro_steps >= -1, ValueError, "GradAccumulator",
              "total_micro_steps >= 0 (or -1 for unknown) expected, got ", total_micro_steps);
}

int64_t GradAccumulator::group_size() const {
    if (total_ < 0) return every_;
    const int64_t group_start = done_ / every_ * every_;
    return std::max<int64_t>(1, std::min(every_, total_ - group_start));
}

double GradAccumulator::loss_scale() const { return 1.0 / static_cast<double>(group_size()); }

bool GradAccumulator::micro_step() {
    const int64_t position = done_ % every_;  // within the current group, before this micro-batch
    const int64_t size = group_size();
    ++done_;
    return position + 1 == size;
}

}  // namespace mod
