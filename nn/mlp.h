// The two MLPs of the model family: CLIP's fc1 -> quick_gelu -> fc2 (with biases), and
// Qwen2's SwiGLU down(silu(gate(x)) * up(x)) (no biases).
#pragma once

#include "nn/linear.h"

namespace mod::nn {

class ClipMlp : public Module {
public:
    ClipMlp(int64_t dim, int64_t hidden, Generator& gen, double init_std);
    Tensor forward(const Tensor& x) const;  // (..., D) -> (..., D)

    std::shared_ptr<Linear> fc1, fc2;
};

class SwiGluMlp : public Module {
public:
    SwiGluMlp(int64_t dim, int64_t hidden, Generator& gen, double init_std);
    Tensor forward(const Tensor& x) const;  // (..., D) -> (..., D)
    // Copies every weight of `other` (same shapes): sparse upcycling starts experts from the dense MLP.
    void copy_from(const SwiGluMlp& other);

    std::shared_ptr<Linear> gate_proj, up_proj, down_proj;
};

}  // namespace mod::nn
