#include "autograd/gradcheck.h"

#include <cmath>
#include <sstream>

#include "autograd/grad_mode.h"
#include "core/elementwise.h"
#include "core/random.h"
#include "core/reduce.h"

namespace mod {

namespace {

constexpr int kMaxReported = 5;

double projected(const std::function<Tensor(const std::vector<Tensor>&)>& fn, const std::vector<Tensor>& inputs,
                 const Tensor& r) {
    return sum(mul(fn(inputs), r)).item();
}

// Offset (in elements, from the tensor's data pointer) of row-major element i.
int64_t element_offset(const Tensor& t, int64_t i) {
    int64_t off = 0;
    for (int64_t d = t.dim() - 1; d >= 0; --d) {
        off += (i % t.shape()[d]) * t.strides()[d];
        i /= t.shape()[d];
    }
    return off;
}

}  // namespace

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                          const std::vector<Tensor>& inputs, const GradcheckOptions& options) {
    for (const Tensor& x : inputs)
        if (x.defined() && x.requires_grad())
            MOD_CHECK(x.dtype() == DType::F64 && x.is_leaf(), ValueError, "gradcheck",
                      "float64 leaf inputs expected, got ", dtype_name(x.dtype()), x.is_leaf() ? "" : " non-leaf");
    for (const Tensor& x : inputs)
        if (x.defined()) x.zero_grad();

    Tensor out = fn(inputs);
    MOD_CHECK(out.dtype() == DType::F64, ValueError, "gradcheck", "a float64 output expected, got ",
              dtype_name(out.dtype()));
    Generator gen(options.seed);
    Tensor r = randn(out.shape(), gen, DType::F64);
    sum(mul(out, r)).backward();

    GradcheckResult result;
    std::ostringstream msg;
    int reported = 0;
    NoGradGuard no_grad;
    for (size_t k = 0; k < inputs.size(); ++k) {
        const Tensor& x = inputs[k];
        if (!x.defined() || !x.requires_grad()) continue;
        const std::vector<double> analytic =
            x.grad().defined() ? x.grad().to_vector<double>() : std::vector<double>(x.numel(), 0.0);
        double* base = x.data<double>();
        for (int64_t i = 0; i < x.numel(); ++i) {
            // Write through the raw pointer: the perturbation must not bump the version counter.
            double& v = base[element_offset(x, i)];
            const double orig = v;
            v = orig + options.eps;
            const double plus = projected(fn, inputs, r);
            v = orig - options.eps;
            const double minus = projected(fn, inputs, r);
            v = orig;
            const double numeric = (plus - minus) / (2 * options.eps);
            const double err = std::fabs(analytic[i] - numeric);
            if (!(err <= options.atol + options.rtol * std::fabs(numeric))) {
                result.ok = false;
                if (reported++ < kMaxReported)
                    msg << "input " << k << " element " << i << ": analytic " << analytic[i] << ", numeric "
                        << numeric << " (error " << err << ")\n";
            }
        }
    }
    result.message = msg.str();
    return result;
}

}  // namespace mod
