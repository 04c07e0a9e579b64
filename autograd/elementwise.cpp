// Elementwise ops: argument checks, the kernel call, and the backward right below.
//
// Broadcasting in forward means summing in backward: an input of shape s that was
// broadcast to the output shape receives sum_to(grad, s).
#include "core/elementwise.h"

#include "autograd/node.h"
#include "core/cpu/elementwise.h"
#include "core/dispatch.h"
#include "core/profile.h"
#include "core/reduce.h"
#include "cuda/elementwise.h"

namespace mod {

namespace {

void check_float_pair(const Tensor& a, const Tensor& b, const char* op) {
    check_float(a, op, "a");
    check_defined(b, op, "b");
    check_same_device(a, b, op);
    MOD_CHECK(a.dtype() == b.dtype(), DTypeError, op, "operands of one dtype expected, got ", dtype_name(a.dtype()),
              " and ", dtype_name(b.dtype()));
    broadcast_shapes(a.shape(), b.shape(), op);
}

Tensor scalar_like(double v, const Tensor& like) { return Tensor::full({}, v, like.dtype(), like.device()); }

Tensor binary_op(cpu::BinaryOp op, const char* name, const Tensor& a, const Tensor& b) {
    OpTimer timer(name);
    check_float_pair(a, b, name);
    Tensor out = MOD_KERNEL(a, binary)(op, a, b);
    const Shape sa = a.shape(), sb = b.shape();
    const bool saves_inputs = op == cpu::BinaryOp::Mul || op == cpu::BinaryOp::Div;
    SavedTensor saved_a(saves_inputs && any_requires_grad({b}) ? a : Tensor());
    SavedTensor saved_b(saves_inputs ? b : Tensor());
    SavedTensor saved_out(op == cpu::BinaryOp::Div ? out : Tensor());
    record(name, out, {a, b}, [=](const Tensor& g, const Node& node) -> TensorList {
        TensorList grads(2);
        switch (op) {
            case cpu::BinaryOp::Add:  // d(a+b) = (g, g)
                if (node.needs_input_grad(0)) grads[0] = sum_to(g, sa);
                if (node.needs_input_grad(1)) grads[1] = sum_to(g, sb);
                break;
            case cpu::BinaryOp::Sub:  // d(a-b) = (g, -g)
                if (node.needs_input_grad(0)) grads[0] = sum_to(g, sa);
                if (node.needs_input_grad(1)) grads[1] = neg(sum_to(g, sb));
                break;
            case cpu::BinaryOp::Mul:  // d(ab) = (g b, g a)
                if (node.needs_input_grad(0)) grads[0] = sum_to(mul(g, saved_b.get(name)), sa);
                if (node.needs_input_grad(1)) grads[1] = sum_to(mul(g, saved_a.get(name)), sb);
                break;
            case cpu::BinaryOp::Div: {  // d(a/b) = (g / b, -g a / b^2 = -g out / b)
                Tensor gb = div(g, saved_b.get(name));
                if (node.needs_input_grad(0)) grads[0] = sum_to(gb, sa);
                if (node.needs_input_grad(1)) grads[1] = neg(sum_to(mul(gb, saved_out.get(name)), sb));
                break;
            }
        }
        return grads;
    });
    return out;
}

// Which of x and y = f(x) the derivative of each unary op reads (see core/cpu/elementwise.cpp).
bool derivative_reads_output(cpu::UnaryOp op) {
    using U = cpu::UnaryOp;
    return op == U::Exp || op == U::Sqrt || op == U::Rsqrt || op == U::Tanh || op == U::Sigmoid;
}

Tensor unary_op(cpu::UnaryOp op, const char* name, const Tensor& x, cpu::UnaryArgs args = {}) {
    OpTimer timer(name);
    check_float(x, name, "x");
    Tensor out = MOD_KERNEL(x, unary)(op, x, args);
    const bool reads_y = derivative_reads_output(op);
    SavedTensor saved(reads_y ? out : x);
    record(name, out, {x}, [=](const Tensor& g, const Node&) -> TensorList {
        Tensor t = saved.get(name);
        return {MOD_KERNEL(t, unary_backward)(op, t, t, g, args)};
    });
    return out;
}

Tensor compare_op(cpu::CompareOp op, const char* name, const Tensor& a, const Tensor& b) {
    OpTimer timer(name);
    check_float_pair(a, b, name);
    return MOD_KERNEL(a, compare)(op, a, b);
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) { return binary_op(cpu::BinaryOp::Add, "add", a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary_op(cpu::BinaryOp::Sub, "sub", a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary_op(cpu::BinaryOp::Mul, "mul", a, b); }
Tensor div(const Tensor& a, const Tensor& b) { return binary_op(cpu::BinaryOp::Div, "div", a, b); }
Tensor add(const Tensor& a, double b) { return add(a, scalar_like(b, a)); }
Tensor sub(const Tensor& a, double b) { return sub(a, scalar_like(b, a)); }
Tensor sub(double a, const Tensor& b) { return sub(scalar_like(a, b), b); }
Tensor mul(const Tensor& a, double b) { return mul(a, scalar_like(b, a)); }
Tensor div(const Tensor& a, double b) { return mul(a, scalar_like(1.0 / b, a)); }
Tensor div(double a, const Tensor& b) { return div(scalar_like(a, b), b); }

Tensor neg(const Tensor& x) { return unary_op(cpu::UnaryOp::Neg, "neg", x); }
Tensor exp(const Tensor& x) { return unary_op(cpu::UnaryOp::Exp, "exp", x); }
Tensor log(const Tensor& x) { return unary_op(cpu::UnaryOp::Log, "log", x); }
Tensor sqrt(const Tensor& x) { return unary_op(cpu::UnaryOp::Sqrt, "sqrt", x); }
Tensor rsqrt(const Tensor& x) { return unary_op(cpu::UnaryOp::Rsqrt, "rsqrt", x); }
Tensor pow(const Tensor& x, double exponent) { return unary_op(cpu::UnaryOp::Pow, "pow", x, {exponent, 0.0}); }
Tensor abs(const Tensor& x) { return unary_op(cpu::UnaryOp::Abs, "abs", x); }
Tensor clamp(const Tensor& x, double lo, double hi) {
    MOD_CHECK(lo <= hi, ValueError, "clamp", "lo <= hi expected, got ", lo, " and ", hi);
    return unary_op(cpu::UnaryOp::Clamp, "clamp", x, {lo, hi});
}
Tensor tanh(const Tensor& x) { return unary_op(cpu::UnaryOp::Tanh, "tanh", x); }
Tensor sigmoid(const Tensor& x) { return unary_op(cpu::UnaryOp::Sigmoid, "sigmoid", x); }
Tensor relu(const Tensor& x) { return unary_op(cpu::UnaryOp::Relu, "relu", x); }
Tensor silu(const Tensor& x) { return unary_op(cpu::UnaryOp::Silu, "silu", x); }
Tensor gelu(const Tensor& x) { return unary_op(cpu::UnaryOp::Gelu, "gelu", x); }
Tensor gelu_tanh(const Tensor& x) { return unary_op(cpu::UnaryOp::GeluTanh, "gelu_tanh", x); }
Tensor quick_gelu(const Tensor& x) { return unary_op(cpu::UnaryOp::QuickGelu, "quick_gelu", x); }

Tensor swiglu(const Tensor& gate, const Tensor& up) {
    OpTimer timer("swiglu");
    check_float_pair(gate, up, "swiglu");
    MOD_CHECK(gate.shape() == up.shape(), ShapeError, "swiglu", "gate and up of one shape expected, got ",
              shape_str(gate.shape()), " and ", shape_str(up.shape()));
    Tensor out = MOD_KERNEL(gate, swiglu)(gate, up);
    SavedTensor saved_gate(gate), saved_up(up);
    // h = silu(g) u: dg = dh u silu'(g), du = dh silu(g), both from one kernel pass.
    record("swiglu", out, {gate, up}, [=](const Tensor& g, const Node&) -> TensorList {
        auto [dgate, dup] = MOD_KERNEL(g, swiglu_backward)(saved_gate.get("swiglu"), saved_up.get("swiglu"), g);
        return {dgate, dup};
    });
    return out;
}

Tensor gt(const Tensor& a, const Tensor& b) { return compare_op(cpu::CompareOp::Gt, "gt", a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return compare_op(cpu::CompareOp::Lt, "lt", a, b); }
Tensor eq(const Tensor& a, const Tensor& b) { return compare_op(cpu::CompareOp::Eq, "eq", a, b); }
Tensor gt(const Tensor& a, double b) { return gt(a, scalar_like(b, a)); }
Tensor lt(const Tensor& a, double b) { return lt(a, scalar_like(b, a)); }
Tensor eq(const Tensor& a, double b) { return eq(a, scalar_like(b, a)); }

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
    OpTimer timer("where");
    check_defined(cond, "where", "cond");
    check_float_pair(a, b, "where");
    check_same_device(cond, a, "where");
    MOD_CHECK(cond.dtype() == DType::Bool, DTypeError, "where", "a bool condition expected, got ",
              dtype_name(cond.dtype()));
    Tensor out = MOD_KERNEL(a, where)(cond, a, b);
    const Shape sa = a.shape(), sb = b.shape();
    SavedTensor saved_cond(cond);
    // d where = (g where cond, g where not cond), each summed to its input's shape.
    record("where", out, {a, b}, [=](const Tensor& g, const Node& node) -> TensorList {
        Tensor c = saved_cond.get("where");
        Tensor zero = Tensor::zeros({}, g.dtype(), g.device());
        TensorList grads(2);
        if (node.needs_input_grad(0)) grads[0] = sum_to(MOD_KERNEL(g, where)(c, g, zero), sa);
        if (node.needs_input_grad(1)) grads[1] = sum_to(MOD_KERNEL(g, where)(c, zero, g), sb);
        return grads;
    });
    return out;
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
    check_defined(x, "masked_fill", "x");
    Shape shape = broadcast_shapes(mask.shape(), x.shape(), "masked_fill");
    MOD_CHECK(shape == x.shape(), ShapeError, "masked_fill", "mask broadcastable to ", shape_str(x.shape()),
              " expected, got ", shape_str(mask.shape()));
    return where(mask, scalar_like(value, x), x);
}

}  // namespace mod
