#include "nn/mlp.h"

#include "autograd/grad_mode.h"
#include "core/elementwise.h"

namespace mod::nn {

ClipMlp::ClipMlp(int64_t dim, int64_t hidden, Generator& gen, double init_std) {
    fc1 = register_module("fc1", std::make_shared<Linear>(dim, hidden, true, gen, init_std));
    fc2 = register_module("fc2", std::make_shared<Linear>(hidden, dim, true, gen, init_std));
}

Tensor ClipMlp::forward(const Tensor& x) const { return fc2->forward(quick_gelu(fc1->forward(x))); }

SwiGluMlp::SwiGluMlp(int64_t dim, int64_t hidden, Generator& gen, double init_std) {
    gate_proj = register_module("gate_proj", std::make_shared<Linear>(dim, hidden, false, gen, init_std));
    up_proj = register_module("up_proj", std::make_shared<Linear>(dim, hidden, false, gen, init_std));
    down_proj = register_module("down_proj", std::make_shared<Linear>(hidden, dim, false, gen, init_std));
}

Tensor SwiGluMlp::forward(const Tensor& x) const {
    return down_proj->forward(swiglu(gate_proj->forward(x), up_proj->forward(x)));
}

void SwiGluMlp::copy_from(const SwiGluMlp& other) {
    NoGradGuard no_grad;
    gate_proj->weight.copy_(other.gate_proj->weight);
    up_proj->weight.copy_(other.up_proj->weight);
    down_proj->weight.copy_(other.down_proj->weight);
}

}  // namespace mod::nn
