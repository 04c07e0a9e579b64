// Module: named parameters and submodules, train/eval mode, freezing by name pattern,
// state_dict / load_state_dict. Names are dotted paths spelled as Hugging Face spells
// them (`model.layers.3.self_attn.q_proj.weight`), so checkpoints interoperate.
//
// A module keeps Tensor handles to its parameters: the member a layer reads in forward
// and the entry in the module's list are the same tensor, so loading a checkpoint copies
// into it in place and every user sees the new values.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace mod::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
public:
    Module() = default;
    virtual ~Module() = default;
    Module(const Module&) = delete;
    Module& operator=(const Module&) = delete;

    // Every parameter of this module and its descendants, depth first, in registration order.
    NamedTensors named_parameters(const std::string& prefix = "") const;
    // Only those that require grad: what an optimizer updates.
    NamedTensors trainable_parameters() const;
    int64_t num_parameters() const;

    std::map<std::string, Tensor> state_dict() const;
    // Copies values in by name. strict: missing and unexpected names are errors. Shape
    // mismatches always are. Values convert to each parameter's dtype (a bf16 checkpoint
    // loads into float32 weights). The error lists every offending name.
    void load_state_dict(const std::map<std::string, Tensor>& state, bool strict = true);

    // Converts every parameter to dtype in place (float64 for gradient checks).
    void to(DType dtype);
    // Moves every parameter to device in place (handles held elsewhere see the move).
    void to(Device device);

    // The dtype linear layers multiply in, for this module and every descendant (set it
    // again after replacing a child). bfloat16 on a GPU is mixed precision: weights and
    // optimizer state stay float32, products run on bf16 tensor cores with float32
    // accumulation. Float32 (the default) means "the weights' own dtype".
    void set_compute_dtype(DType dtype);
    DType compute_dtype() const { return compute_dtype_; }

    void train(bool on = true);
    void eval() { train(false); }
    bool is_training() const { return training_; }

    // Sets requires_grad on every parameter whose full name matches `pattern`, where `*`
    // matches any run of characters (`model.layers.*.mlp.*`); returns how many matched.
    int set_requires_grad(const std::string& pattern, bool requires_grad);

    Module* child(const std::string& name) const;
    // Replaces the child registered under name (sparse upcycling swaps a dense MLP for an MoE layer).
    void replace_module(const std::string& name, std::shared_ptr<Module> module);

protected:
    Tensor& register_parameter(const std::string& name, Tensor value);
    template <typename M>
    std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
        children_.emplace_back(name, module);
        return module;
    }

private:
    std::vector<std::pair<std::string, Tensor>> params_;
    std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
    bool training_ = true;
    DType compute_dtype_ = DType::F32;
};

// Children named 0, 1, 2, ... as HF numbers layers (`encoder.layers.3`).
template <typename M>
class ModuleList : public Module {
public:
    std::shared_ptr<M> push_back(std::shared_ptr<M> m) {
        items_.push_back(m);
        return register_module(std::to_string(items_.size() - 1), m);
    }
    size_t size() const { return items_.size(); }
    const std::shared_ptr<M>& operator[](size_t i) const { return items_[i]; }
    auto begin() const { return items_.begin(); }
    auto end() const { return items_.end(); }

private:
    std::vector<std::shared_ptr<M>> items_;
};

// Glob match with `*` only (any run of characters, dots included).
bool name_matches(const std::string& pattern, const std::string& name);

}  // namespace mod::nn
