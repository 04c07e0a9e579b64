#include "nn/module.h"

#include <sstream>

#include "autograd/grad_mode.h"

namespace mod::nn {

Tensor& Module::register_parameter(const std::string& name, Tensor value) {
    MOD_CHECK(value.defined(), ValueError, "register_parameter", "a defined tensor expected for ", name);
    if (is_floating(value.dtype()) && !value.requires_grad()) value.requires_grad_();
    params_.emplace_back(name, value);
    return params_.back().second;
}

NamedTensors Module::named_parameters(const std::string& prefix) const {
    NamedTensors out;
    for (const auto& [name, t] : params_) out.emplace_back(prefix + name, t);
    for (const auto& [name, child] : children_) {
        NamedTensors sub = child->named_parameters(prefix + name + ".");
        out.insert(out.end(), sub.begin(), sub.end());
    }
    return out;
}

NamedTensors Module::trainable_parameters() const {
    NamedTensors out;
    for (auto& [name, t] : named_parameters())
        if (t.requires_grad()) out.emplace_back(name, t);
    return out;
}

int64_t Module::num_parameters() const {
    int64_t n = 0;
    for (const auto& [name, t] : named_parameters()) n += t.numel();
    return n;
}

std::map<std::string, Tensor> Module::state_dict() const {
    std::map<std::string, Tensor> out;
    for (const auto& [name, t] : named_parameters()) out.emplace(name, t.detach());
    return out;
}

void Module::load_state_dict(const std::map<std::string, Tensor>& state, bool strict) {
    const NamedTensors params = named_parameters();
    std::vector<std::string> missing, unexpected, misshaped;
    std::map<std::string, const Tensor*> by_name;
    for (const auto& [name, t] : params) by_name[name] = &t;
    for (const auto& [name, value] : state) {
        auto it = by_name.find(name);
        if (it == by_name.end()) {
            unexpected.push_back(name);
        } else if (value.shape() != it->second->shape()) {
            misshaped.push_back(name + " " + shape_str(it->second->shape()) + " vs " + shape_str(value.shape()));
        }
    }
    for (const auto& [name, t] : params)
        if (!state.count(name)) missing.push_back(name);
    auto join = [](const std::vector<std::string>& v) {
        std::ostringstream os;
        for (size_t i = 0; i < v.size() && i < 20; ++i) os << (i ? ", " : "") << v[i];
        if (v.size() > 20) os << ", ... (" << v.size() << " in all)";
        return os.str();
    };
    const bool bad = !misshaped.empty() || (strict && (!missing.empty() || !unexpected.empty()));
    if (bad) {
        std::ostringstream msg;
        msg << "a state dict matching the module expected;";
        if (!misshaped.empty()) msg << " mis-shaped (module vs file): " << join(misshaped) << ";";
        if (strict && !missing.empty()) msg << " missing: " << join(missing) << ";";
        if (strict && !unexpected.empty()) msg << " unexpected: " << join(unexpected) << ";";
        throw ShapeError(detail::format_error("load_state_dict", msg.str()));
    }
    NoGradGuard no_grad;
    for (const auto& [name, t] : params) {
        auto it = state.find(name);
        if (it != state.end()) Tensor(t).copy_(it->second);
    }
}

void Module::to(DType dtype) {
    for (const auto& [name, t] : named_parameters())
        if (is_floating(t.dtype())) t.set_data(t.detach().to(dtype));
}

void Module::to(Device device) {
    for (const auto& [name, t] : named_parameters()) t.set_data(t.detach().to(device));
}

void Module::set_compute_dtype(DType dtype) {
    MOD_CHECK(dtype == DType::F32 || dtype == DType::BF16, DTypeError, "set_compute_dtype",
              "float32 or bfloat16 expected, got ", dtype_name(dtype));
    compute_dtype_ = dtype;
    for (auto& [name, child] : children_) child->set_compute_dtype(dtype);
}

void Module::train(bool on) {
    training_ = on;
    for (auto& [name, child] : children_) child->train(on);
}

int Module::set_requires_grad(const std::string& pattern, bool requires_grad) {
    int matched = 0;
    for (auto& [name, t] : named_parameters()) {
        if (!name_matches(pattern, name)) continue;
        Tensor(t).requires_grad_(requires_grad);
        ++matched;
    }
    return matched;
}

Module* Module::child(const std::string& name) const {
    for (const auto& [n, c] : children_)
        if (n == name) return c.get();
    return nullptr;
}

void Module::replace_module(const std::string& name, std::shared_ptr<Module> module) {
    for (auto& [n, c] : children_)
        if (n == name) {
            c = std::move(module);
            return;
        }
    throw ValueError(detail::format_error("replace_module", "an existing child named ", name, " expected"));
}

bool name_matches(const std::string& pattern, const std::string& name) {
    // Iterative glob with backtracking to the last '*'.
    size_t p = 0, n = 0, star = std::string::npos, mark = 0;
    while (n < name.size()) {
        if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            mark = n;
        } else if (p < pattern.size() && pattern[p] == name[n]) {
            ++p;
            ++n;
        } else if (star != std::string::npos) {
            p = star + 1;
            n = ++mark;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*') ++p;
    return p == pattern.size();
}

}  // namespace mod::nn
