// conv2d: argument checks and the fused node (im2col + GEMM forward, GEMMs + col2im backward).
#include "core/conv.h"

#include "autograd/node.h"
#include "core/cpu/conv.h"
#include "core/dispatch.h"
#include "core/profile.h"
#include "cuda/conv.h"

namespace mod {

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t stride, int64_t padding) {
    const char* op = "conv2d";
    OpTimer timer(op);
    check_defined(x, op, "x");
    check_defined(weight, op, "weight");
    check_same_device(x, weight, op);
    MOD_CHECK(x.dim() == 4 && weight.dim() == 4 && x.size(1) == weight.size(1), ShapeError, op,
              "x (B, C, H, W) and weight (O, C, kh, kw) expected, got ", shape_str(x.shape()), " and ",
              shape_str(weight.shape()));
    MOD_CHECK(x.dtype() == weight.dtype() && (x.dtype() == DType::F32 || x.dtype() == DType::F64), DTypeError, op,
              "float32 or float64 x and weight of one dtype expected");
    MOD_CHECK(stride >= 1 && padding >= 0, ValueError, op, "stride >= 1 and padding >= 0 expected, got ", stride,
              " and ", padding);
    if (bias.defined())
        MOD_CHECK(bias.shape() == Shape{weight.size(0)} && bias.dtype() == x.dtype(), ShapeError, op, "bias of shape (",
                  weight.size(0), ") expected, got ", shape_str(bias.shape()));
    cpu::ConvGeometry g{x.size(0), x.size(1), x.size(2), x.size(3), weight.size(0), weight.size(2),
                        weight.size(3), stride, padding, 0, 0};
    g.Ho = (g.H + 2 * padding - g.kh) / stride + 1;
    g.Wo = (g.W + 2 * padding - g.kw) / stride + 1;
    MOD_CHECK(g.H + 2 * padding >= g.kh && g.W + 2 * padding >= g.kw, ShapeError, op, "an input of at least the kernel ",
              g.kh, "x", g.kw, " expected, got ", shape_str(x.shape()));
    Tensor xc = x.contiguous(), wc = weight.contiguous(), bc = bias.defined() ? bias.contiguous() : bias;
    Tensor y = MOD_KERNEL(xc, conv2d_forward)(xc, wc, bc, g);
    SavedTensor sx(xc), sw(wc);
    const bool has_bias = bc.defined();
    record(op, y, {xc, wc, bc}, [=](const Tensor& dy, const Node& node) -> TensorList {
        cpu::ConvGrads d = MOD_KERNEL(dy, conv2d_backward)(dy.contiguous(), sx.get(op), sw.get(op), has_bias, g,
                                                node.needs_input_grad(0));
        return {d.dx, node.needs_input_grad(1) ? d.dweight : Tensor(), d.dbias};
    });
    return y;
}

}  // namespace mod
