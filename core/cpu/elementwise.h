// CPU kernels for elementwise ops. Inputs may be strided and broadcast; outputs are
// new contiguous tensors. Float kernels accept float32 and float64.
#pragma once

#include <utility>

#include "core/tensor.h"

namespace mod::cpu {

enum class BinaryOp { Add, Sub, Mul, Div };
enum class CompareOp { Gt, Lt, Eq };
enum class UnaryOp { Neg, Exp, Log, Sqrt, Rsqrt, Pow, Abs, Clamp, Tanh, Sigmoid, Relu, Silu, Gelu, GeluTanh, QuickGelu };

// Parameters of the parametric unary ops: Pow uses a (the exponent), Clamp uses [a, b].
struct UnaryArgs {
    double a = 0.0;
    double b = 0.0;
};

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b);  // out shape = broadcast(a, b)
Tensor compare(CompareOp op, const Tensor& a, const Tensor& b);  // bool
Tensor unary(UnaryOp op, const Tensor& x, UnaryArgs args = {});
// dx = dy * f'(x); y = f(x) is passed because several derivatives are cheapest from it.
Tensor unary_backward(UnaryOp op, const Tensor& x, const Tensor& y, const Tensor& dy, UnaryArgs args = {});
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

// SwiGLU's activation h = silu(g) * u in one pass (g, u of one shape), and its gradients in
// one pass: dg = dh * u * silu'(g), du = dh * silu(g). Fused because the MLPs' unfused
// silu-then-mul reads and writes the (tokens, intermediate) activations twice as often.
Tensor swiglu(const Tensor& gate, const Tensor& up);
std::pair<Tensor, Tensor> swiglu_backward(const Tensor& gate, const Tensor& up, const Tensor& dh);

}  // namespace mod::cpu
