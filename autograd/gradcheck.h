// gradcheck: compares autograd's gradients with central finite differences in float64.
//
// The function's output is projected on a fixed random direction r, L = sum(r * f(x)),
// so one backward gives dL/dx for every input; each input element is then perturbed by
// +-eps and (L(x+eps) - L(x-eps)) / 2 eps compared with it. Inputs may be non-contiguous
// (a transposed leaf) and of shapes the op broadcasts; only inputs that require grad are checked.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace mod {

struct GradcheckOptions {
    double eps = 1e-6;
    double atol = 1e-7;
    double rtol = 1e-5;
    uint64_t seed = 0;
};

struct GradcheckResult {
    bool ok = true;
    std::string message;  // the first mismatches, with input, element, analytic and numeric values
};

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                          const std::vector<Tensor>& inputs, const GradcheckOptions& options = {});

}  // namespace mod
