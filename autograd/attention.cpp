// rope and scaled_dot_product_attention: argument checks and the fused nodes.
#include "core/attention.h"

#include <cmath>

#include "autograd/node.h"
#include "core/cpu/attention.h"
#include "core/dispatch.h"
#include "core/profile.h"
#include "cuda/attention.h"

namespace mod {

namespace {

void check_heads(const Tensor& t, const char* name, const char* op) {
    check_defined(t, op, name);
    MOD_CHECK(t.dim() == 4, ShapeError, op, "a (B, heads, tokens, Dh) ", name, " expected, got ",
              shape_str(t.shape()));
}

// The layout a kernel reads: the CUDA kernels contiguous heads; the CPU ones any strides with
// contiguous rows, so the head split of a projection, (B, T, heads, Dh) viewed as
// (B, heads, T, Dh), is read in place.
Tensor kernel_layout(const Tensor& t) {
    if (t.device().is_cuda() || t.strides()[3] != 1) return t.contiguous();
    return t;
}

}  // namespace

Tensor rope(const Tensor& x, const Tensor& positions, double theta) {
    OpTimer timer("rope");
    check_float(x, "rope", "x");
    check_heads(x, "x", "rope");
    MOD_CHECK(x.size(3) % 2 == 0, ShapeError, "rope", "an even head dim expected, got ", shape_str(x.shape()));
    check_defined(positions, "rope", "positions");
    MOD_CHECK(positions.dtype() == DType::I64 || positions.dtype() == DType::I32, DTypeError, "rope",
              "int32 or int64 positions expected, got ", dtype_name(positions.dtype()));
    const int64_t B = x.size(0), T = x.size(2);
    const bool per_batch = positions.shape() == Shape{B, T};
    MOD_CHECK(per_batch || positions.shape() == Shape{T}, ShapeError, "rope", "positions of shape (", T, ") or (",
              B, ",", T, ") for x ", shape_str(x.shape()), " expected, got ", shape_str(positions.shape()));
    Tensor pos = positions.to(DType::I64).to(x.device()).expand({B, T}).contiguous();
    Tensor xc = kernel_layout(x);
    Tensor out = MOD_KERNEL(xc, rope)(xc, pos, theta, 1.0);
    // The rotation is orthogonal: its transpose, the backward, is the rotation by -angle.
    record("rope", out, {xc}, [pos, theta](const Tensor& g, const Node&) -> TensorList {
        return {MOD_KERNEL(g, rope)(kernel_layout(g), pos, theta, -1.0)};
    });
    return out;
}

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, double scale) {
    const char* op = "attention";
    OpTimer timer(op);
    check_heads(q, "q", op);
    check_heads(k, "k", op);
    check_heads(v, "v", op);
    MOD_CHECK(k.shape() == v.shape(), ShapeError, op, "k and v of one shape expected, got ", shape_str(k.shape()),
              " and ", shape_str(v.shape()));
    MOD_CHECK(q.size(0) == k.size(0) && q.size(3) == k.size(3) && k.size(1) > 0 && q.size(1) % k.size(1) == 0,
              ShapeError, op, "q (B, H, T, Dh) and k (B, Hkv, S, Dh) with H a multiple of Hkv expected, got ",
              shape_str(q.shape()), " and ", shape_str(k.shape()));
    MOD_CHECK(!causal || k.size(2) >= q.size(2), ShapeError, op, "causal attention needs S >= T, got q ",
              shape_str(q.shape()), " and k ", shape_str(k.shape()));
    MOD_CHECK(q.dtype() == k.dtype() && k.dtype() == v.dtype(), DTypeError, op, "q, k, v of one dtype expected, got ",
              dtype_name(q.dtype()), ", ", dtype_name(k.dtype()), " and ", dtype_name(v.dtype()));
    // bfloat16 runs on the GPU's tensor cores (float32 softmax statistics, bfloat16 out and
    // gradients); on the CPU bfloat16 is storage only.
    const bool bf16_ok = q.device().is_cuda() && q.dtype() == DType::BF16;
    MOD_CHECK(q.dtype() == DType::F32 || q.dtype() == DType::F64 || bf16_ok, DTypeError, op,
              "float32 or float64 q, k, v (bfloat16 on CUDA) expected, got ", dtype_name(q.dtype()));
    check_same_device(q, k, op);
    check_same_device(q, v, op);
    if (scale <= 0.0) scale = 1.0 / std::sqrt(static_cast<double>(q.size(3)));
    Tensor qc = kernel_layout(q), kc = kernel_layout(k), vc = kernel_layout(v);
    cpu::AttentionForward fwd = MOD_KERNEL(qc, attention_forward)(qc, kc, vc, causal, scale);
    SavedTensor sq(qc), sk(kc), sv(vc), so(fwd.out), slse(fwd.lse);
    const DType dtype = q.dtype();
    record(op, fwd.out, {qc, kc, vc}, [=](const Tensor& g, const Node&) -> TensorList {
        // The kernels read dout in q's dtype: a gradient of another float dtype is converted.
        const Tensor dout = kernel_layout(g.to(dtype));
        cpu::AttentionGrads d = MOD_KERNEL(g, attention_backward)(dout, sq.get(op), sk.get(op), sv.get(op),
                                                                  so.get(op), slse.get(op), causal, scale);
        return {d.dq, d.dk, d.dv};
    });
    return fwd.out;
}

}  // namespace mod
