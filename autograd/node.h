// The autograd graph: one Node per recorded op, pointing at the nodes that produced its
// inputs. Leaves that require grad end in an AccumulateGrad node that adds into .grad.
//
// Backward of an op is written as a closure right under its forward (autograd/<family>.cpp)
// and stored in a FunctionNode. Tensors the closure needs are held as SavedTensor, which
// records the storage version at save time and refuses to unpack after an in-place write.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace mod {

using TensorList = std::vector<Tensor>;

class Node {
public:
    Node(std::string name, std::vector<std::shared_ptr<Node>> next, std::vector<Shape> input_shapes)
        : name_(std::move(name)), next_(std::move(next)), input_shapes_(std::move(input_shapes)) {}
    virtual ~Node() = default;
    Node(const Node&) = delete;
    Node& operator=(const Node&) = delete;

    const std::string& name() const { return name_; }
    // One entry per input of the op; null where that input needs no gradient.
    const std::vector<std::shared_ptr<Node>>& next() const { return next_; }
    const std::vector<Shape>& input_shapes() const { return input_shapes_; }
    bool needs_input_grad(size_t i) const { return i < next_.size() && next_[i] != nullptr; }

    // Gradients with respect to each input, given the gradient of the output. An undefined
    // tensor means "no gradient" (the input needs none, or it is identically zero).
    virtual TensorList apply(const Tensor& grad_output) = 0;
    // Frees what backward saved; called after use unless the graph is retained.
    virtual void release() {}

private:
    std::string name_;
    std::vector<std::shared_ptr<Node>> next_;
    std::vector<Shape> input_shapes_;
};

// A tensor kept for backward: a detached alias (no grad_fn, so no reference cycle from a
// node to its own output) plus the storage version when it was saved.
class SavedTensor {
public:
    SavedTensor() = default;
    explicit SavedTensor(const Tensor& t);
    // The saved tensor; throws AutogradError naming op if it was modified in place since.
    Tensor get(const char* op) const;

private:
    Tensor tensor_;
    uint64_t version_ = 0;
};

using BackwardFn = std::function<TensorList(const Tensor& grad_output, const Node& node)>;

class FunctionNode : public Node {
public:
    FunctionNode(std::string name, std::vector<std::shared_ptr<Node>> next, std::vector<Shape> input_shapes,
                 BackwardFn fn)
        : Node(std::move(name), std::move(next), std::move(input_shapes)), fn_(std::move(fn)) {}
    TensorList apply(const Tensor& grad_output) override;
    void release() override { fn_ = nullptr; }

private:
    BackwardFn fn_;
};

class AccumulateGrad : public Node {
public:
    explicit AccumulateGrad(std::shared_ptr<TensorImpl> leaf)
        : Node("AccumulateGrad", {}, {leaf->shape}), leaf_(std::move(leaf)) {}
    TensorList apply(const Tensor& grad_output) override;

private:
    std::shared_ptr<TensorImpl> leaf_;
};

// True when grad mode is on and any defined input requires grad: then the op records.
bool any_requires_grad(const TensorList& inputs);

// Attaches `fn` as the backward of `out` when any_requires_grad(inputs). Inputs may hold
// undefined tensors (absent optional arguments); fn returns one gradient per input.
void record(const char* op, Tensor& out, const TensorList& inputs, BackwardFn fn);

}  // namespace mod
