#include "autograd/node.h"

#include "autograd/grad_mode.h"
#include "core/elementwise.h"

namespace mod {

SavedTensor::SavedTensor(const Tensor& t) {
    if (!t.defined()) return;
    tensor_ = t.detach();
    version_ = t.version();
}

Tensor SavedTensor::get(const char* op) const {
    if (!tensor_.defined()) return tensor_;
    MOD_CHECK(tensor_.version() == version_, AutogradError, op,
              "a tensor saved for backward was modified in place (version ", version_, " saved, now ",
              tensor_.version(), "); clone it before the in-place write");
    return tensor_;
}

TensorList FunctionNode::apply(const Tensor& grad_output) {
    MOD_CHECK(fn_ != nullptr, AutogradError, name().c_str(),
              "backward through a graph that an earlier backward() already freed; pass retain_graph=true to the "
              "first backward() to go through it twice");
    return fn_(grad_output, *this);
}

namespace {
// True when nothing but this handle can reach t's memory: its only handle, its storage shared
// with no other view, contiguous.
bool sole_owner(const Tensor& t) {
    return t.impl_ptr().use_count() == 1 && t.storage().use_count() == 1 && t.is_contiguous();
}
}  // namespace

TensorList AccumulateGrad::apply(const Tensor& grad_output) {
    Tensor leaf(leaf_);
    const bool convert = grad_output.dtype() != leaf.dtype();
    Tensor current = leaf.grad();
    if (current.defined()) {
        leaf.set_grad(add(current, convert ? grad_output.to(leaf.dtype()) : grad_output));
    } else if (convert) {
        leaf.set_grad(grad_output.to(leaf.dtype()));  // a new tensor
    } else {
        // .grad must own its memory, because optimizers and clipping write into it in place.
        // The backward engine hands over its only handle to a fresh gradient, which is kept as
        // it is; one that may alias another buffer (a view, a stride-0 expand, a tensor another
        // edge received too, a caller's tensor) is copied.
        leaf.set_grad(sole_owner(grad_output) ? grad_output : grad_output.clone());
    }
    return {};
}

bool any_requires_grad(const TensorList& inputs) {
    if (!GradMode::is_enabled()) return false;
    for (const Tensor& t : inputs)
        if (t.defined() && t.requires_grad()) return true;
    return false;
}

namespace {
std::shared_ptr<Node> grad_accumulator(const Tensor& leaf) {
    AutogradMeta& meta = leaf.impl()->autograd;
    if (auto existing = meta.grad_accumulator.lock()) return existing;
    auto acc = std::make_shared<AccumulateGrad>(leaf.impl_ptr());
    meta.grad_accumulator = acc;
    return acc;
}
}  // namespace

void record(const char* op, Tensor& out, const TensorList& inputs, BackwardFn fn) {
    if (!any_requires_grad(inputs)) return;
    std::vector<std::shared_ptr<Node>> next(inputs.size());
    std::vector<Shape> shapes(inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
        const Tensor& t = inputs[i];
        if (!t.defined()) continue;
        shapes[i] = t.shape();
        if (!t.requires_grad()) continue;
        next[i] = t.grad_fn() ? t.grad_fn() : grad_accumulator(t);
    }
    AutogradMeta& meta = out.impl()->autograd;
    meta.grad_fn = std::make_shared<FunctionNode>(op, std::move(next), std::move(shapes), std::move(fn));
    meta.requires_grad = true;
}

}  // namespace mod
