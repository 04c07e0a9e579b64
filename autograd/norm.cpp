// layer_norm and rms_norm: one fused node each; the backward math is in core/cpu/norm.cpp.
#include "core/norm.h"

#include "autograd/node.h"
#include "core/cpu/norm.h"
#include "core/dispatch.h"
#include "core/profile.h"
#include "cuda/norm.h"

namespace mod {

namespace {

void check_norm_args(const Tensor& x, const Tensor& weight, const Tensor& bias, const char* op) {
    check_float(x, op, "x");
    MOD_CHECK(x.dim() >= 1 && x.size(-1) > 0, ShapeError, op, "a non-empty last dim expected, got ",
              shape_str(x.shape()));
    for (const Tensor* p : {&weight, &bias}) {
        if (!p->defined()) continue;
        MOD_CHECK(p->shape() == Shape{x.size(-1)}, ShapeError, op, "weight and bias of shape (", x.size(-1),
                  ") expected for input ", shape_str(x.shape()), ", got ", shape_str(p->shape()));
        check_same_device(*p, x, op);
        MOD_CHECK(p->dtype() == x.dtype(), DTypeError, op, "weight and bias of dtype ", dtype_name(x.dtype()),
                  " expected, got ", dtype_name(p->dtype()));
    }
}

Tensor rows_of(const Tensor& x) { return x.contiguous().reshape({-1, x.size(-1)}); }
Tensor contiguous_or_undefined(const Tensor& t) { return t.defined() ? t.contiguous() : t; }

}  // namespace

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
    OpTimer timer("layer_norm");
    check_norm_args(x, weight, bias, "layer_norm");
    Tensor rows = rows_of(x);
    Tensor w = contiguous_or_undefined(weight), b = contiguous_or_undefined(bias);
    cpu::NormOutput out = MOD_KERNEL(rows, layer_norm_forward)(rows, w, b, eps);
    SavedTensor sx(rows), sw(w), smean(out.mean), srstd(out.rstd);
    const bool has_bias = b.defined();
    record("layer_norm", out.y, {rows, w, b}, [=](const Tensor& g, const Node&) -> TensorList {
        cpu::NormGrads d = MOD_KERNEL(g, layer_norm_backward)(g.contiguous(), sx.get("layer_norm"), sw.get("layer_norm"),
                                                    has_bias, smean.get("layer_norm"), srstd.get("layer_norm"));
        return {d.dx, d.dweight, d.dbias};
    });
    return out.y.view(x.shape());
}

Tensor rms_norm(const Tensor& x, const Tensor& weight, double eps) {
    OpTimer timer("rms_norm");
    check_norm_args(x, weight, Tensor(), "rms_norm");
    Tensor rows = rows_of(x);
    Tensor w = contiguous_or_undefined(weight);
    cpu::NormOutput out = MOD_KERNEL(rows, rms_norm_forward)(rows, w, eps);
    SavedTensor sx(rows), sw(w), srstd(out.rstd);
    record("rms_norm", out.y, {rows, w}, [=](const Tensor& g, const Node&) -> TensorList {
        cpu::NormGrads d =
            MOD_KERNEL(g, rms_norm_backward)(g.contiguous(), sx.get("rms_norm"), sw.get("rms_norm"), srstd.get("rms_norm"));
        return {d.dx, d.dweight};
    });
    return out.y.view(x.shape());
}

}  // namespace mod
