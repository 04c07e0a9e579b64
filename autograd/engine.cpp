#include "autograd/engine.h"

#include <unordered_map>
#include <vector>

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "core/elementwise.h"
#include "core/profile.h"

namespace mod {

void run_backward(const Tensor& root, const Tensor& grad_root, bool retain_graph) {
    check_defined(root, "backward", "self");
    MOD_CHECK(is_floating(root.dtype()), AutogradError, "backward",
              "a floating-point tensor expected, got ", dtype_name(root.dtype()),
              ": integer tensors carry no gradient");
    MOD_CHECK(root.requires_grad(), AutogradError, "backward",
              "a tensor that requires grad expected; no input of the ops that made it requires grad, "
              "or it was computed under NoGradGuard");
    Tensor grad = grad_root;
    if (!grad.defined()) {
        MOD_CHECK(root.numel() == 1, AutogradError, "backward",
                  "an explicit gradient expected for a non-scalar output of shape ", shape_str(root.shape()));
        grad = Tensor::ones(root.shape(), root.dtype(), root.device());
    }
    MOD_CHECK(grad.shape() == root.shape(), ShapeError, "backward", "gradient of shape ", shape_str(root.shape()),
              " expected, got ", shape_str(grad.shape()));

    NoGradGuard no_grad;
    std::shared_ptr<Node> start = root.grad_fn();
    if (!start) {
        // A leaf: backward() adds the gradient straight into its .grad.
        AccumulateGrad(root.impl_ptr()).apply(grad);
        return;
    }

    // Count, for every reachable node, how many edges point at it: a node runs only when
    // all its consumers have contributed their gradient.
    std::unordered_map<Node*, int> pending;
    std::vector<Node*> stack{start.get()};
    pending[start.get()] = 0;
    while (!stack.empty()) {
        Node* n = stack.back();
        stack.pop_back();
        for (const auto& next : n->next()) {
            if (!next) continue;
            auto [it, inserted] = pending.try_emplace(next.get(), 0);
            ++it->second;
            if (inserted) stack.push_back(next.get());
        }
    }

    std::unordered_map<Node*, Tensor> buffers;
    buffers[start.get()] = grad;
    std::vector<std::shared_ptr<Node>> ready{start};
    while (!ready.empty()) {
        std::shared_ptr<Node> node = std::move(ready.back());
        ready.pop_back();
        Tensor g = std::move(buffers[node.get()]);
        buffers.erase(node.get());
        TensorList grads;
        if (g.defined()) {
            {
                OpTimer timer(node->name(), " backward");
                grads = node->apply(g);
            }
            MOD_CHECK(grads.empty() || grads.size() == node->next().size(), AutogradError, node->name().c_str(),
                      node->next().size(), " input gradients expected from backward, got ", grads.size());
        }
        if (!retain_graph) node->release();
        for (size_t i = 0; i < node->next().size(); ++i) {
            const std::shared_ptr<Node>& next = node->next()[i];
            if (!next) continue;
            if (i < grads.size() && grads[i].defined()) {
                const Tensor& gi = grads[i];
                MOD_CHECK(gi.shape() == node->input_shapes()[i], ShapeError, node->name().c_str(),
                          "backward gave input ", i, " a gradient of shape ", shape_str(gi.shape()),
                          ", expected ", shape_str(node->input_shapes()[i]));
                Tensor& buf = buffers[next.get()];
                buf = buf.defined() ? add(buf, gi) : gi;
            }
            if (--pending[next.get()] == 0) ready.push_back(next);
        }
    }
}

void Tensor::backward(const Tensor& grad, bool retain_graph) const { run_backward(*this, grad, retain_graph); }

bool Tensor::requires_grad() const { return impl_->autograd.requires_grad; }

Tensor& Tensor::requires_grad_(bool on) {
    MOD_CHECK(!on || is_floating(dtype()), AutogradError, "requires_grad_",
              "a floating-point tensor expected, got ", dtype_name(dtype()), ": integer tensors carry no gradient");
    MOD_CHECK(is_leaf(), AutogradError, "requires_grad_",
              "a leaf tensor expected; this one is the output of ", impl_->autograd.grad_fn->name(),
              " (use detach() to make a leaf)");
    impl_->autograd.requires_grad = on;
    return *this;
}

bool Tensor::is_leaf() const { return impl_->autograd.grad_fn == nullptr; }
Tensor Tensor::grad() const { return impl_->autograd.grad; }

void Tensor::set_grad(const Tensor& grad) const {
    if (grad.defined())
        MOD_CHECK(grad.shape() == shape(), ShapeError, "set_grad", "gradient of shape ", shape_str(shape()),
                  " expected, got ", shape_str(grad.shape()));
    impl_->autograd.grad = grad;
}

void Tensor::zero_grad() const { impl_->autograd.grad = Tensor(); }
const std::shared_ptr<Node>& Tensor::grad_fn() const { return impl_->autograd.grad_fn; }

Tensor Tensor::detach() const { return make_view(*this, shape(), strides(), offset()); }

}  // namespace mod
