// Fused losses: forward keeps per-row statistics, backward recomputes the softmax from them.
#include "core/loss.h"

#include "autograd/node.h"
#include "core/cpu/loss.h"
#include "core/dispatch.h"
#include "core/elementwise.h"
#include "core/profile.h"
#include "cuda/loss.h"

namespace mod {

namespace {

void check_logits(const Tensor& logits, const char* op) {
    check_float(logits, op, "logits");
    MOD_CHECK(logits.dim() == 2, ShapeError, op, "(N, V) logits expected, got ", shape_str(logits.shape()));
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& targets, int64_t ignore_index, double label_smoothing) {
    OpTimer timer("cross_entropy");
    check_logits(logits, "cross_entropy");
    check_defined(targets, "cross_entropy", "targets");
    MOD_CHECK(targets.shape() == Shape{logits.size(0)}, ShapeError, "cross_entropy", "targets of shape (",
              logits.size(0), ") for logits ", shape_str(logits.shape()), " expected, got ",
              shape_str(targets.shape()));
    MOD_CHECK(targets.dtype() == DType::I64 || targets.dtype() == DType::I32, DTypeError, "cross_entropy",
              "int32 or int64 targets expected, got ", dtype_name(targets.dtype()));
    MOD_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0, ValueError, "cross_entropy",
              "label_smoothing in [0, 1] expected, got ", label_smoothing);
    check_same_device(logits, targets, "cross_entropy");
    Tensor t = targets.to(DType::I64).contiguous();
    const int64_t V = logits.size(1);
    for (int64_t target : t.to_vector<int64_t>())
        MOD_CHECK(target == ignore_index || (target >= 0 && target < V), ValueError, "cross_entropy",
                  "targets in [0, ", V, ") or ignore_index ", ignore_index, " expected, got ", target);
    Tensor z = logits.contiguous();
    cpu::CrossEntropyForward fwd = MOD_KERNEL(z, cross_entropy_forward)(z, t, ignore_index, label_smoothing);
    SavedTensor sz(z), slse(fwd.lse);
    const int64_t valid = fwd.valid;
    record("cross_entropy", fwd.loss, {z}, [=](const Tensor& g, const Node&) -> TensorList {
        const double scale = valid ? g.item() / static_cast<double>(valid) : 0.0;
        return {MOD_KERNEL(t, cross_entropy_backward)(sz.get("cross_entropy"), t, slse.get("cross_entropy"), ignore_index,
                                            label_smoothing, scale)};
    });
    return fwd.loss;
}

Tensor soft_cross_entropy(const Tensor& logits, const Tensor& target_logits, double tau) {
    OpTimer timer("soft_cross_entropy");
    check_logits(logits, "soft_cross_entropy");
    check_logits(target_logits, "soft_cross_entropy");
    MOD_CHECK(logits.shape() == target_logits.shape(), ShapeError, "soft_cross_entropy",
              "logits and target logits of one shape expected, got ", shape_str(logits.shape()), " and ",
              shape_str(target_logits.shape()));
    MOD_CHECK(logits.dtype() == target_logits.dtype(), DTypeError, "soft_cross_entropy",
              "logits and target logits of one dtype expected, got ", dtype_name(logits.dtype()), " and ",
              dtype_name(target_logits.dtype()));
    check_same_device(logits, target_logits, "soft_cross_entropy");
    MOD_CHECK(tau > 0.0, ValueError, "soft_cross_entropy", "tau > 0 expected, got ", tau);
    Tensor z = logits.contiguous(), t = target_logits.contiguous();
    cpu::SoftCrossEntropyForward fwd = MOD_KERNEL(z, soft_cross_entropy_forward)(z, t, tau);
    // The statistics only: keeping fwd.loss (the output) in its own node would be a cycle.
    cpu::SoftCrossEntropyForward stats{Tensor(), fwd.lse_s, fwd.lse_t, fwd.row_loss};
    SavedTensor sz(z), st(t);
    const int64_t N = z.size(0);
    record("soft_cross_entropy", fwd.loss, {z, t}, [=](const Tensor& g, const Node& node) -> TensorList {
        const double scale = N ? g.item() / static_cast<double>(N) : 0.0;
        auto [dz, dt] = MOD_KERNEL(z, soft_cross_entropy_backward)(sz.get("soft_cross_entropy"), st.get("soft_cross_entropy"),
                                                         stats, tau, scale, node.needs_input_grad(0),
                                                         node.needs_input_grad(1));
        return {dz, dt};
    });
    return fwd.loss;
}

Tensor kl_div(const Tensor& logits, const Tensor& target_logits, double tau) {
    return sub(soft_cross_entropy(logits, target_logits, tau), soft_cross_entropy(target_logits, target_logits, tau));
}

}  // namespace mod
