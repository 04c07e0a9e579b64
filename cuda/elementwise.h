// CUDA elementwise kernels, the same contract as core/cpu/elementwise.h: strided and
// broadcast inputs, new contiguous outputs. Float kernels accept float32, float64 and
// bfloat16 (computed in float).
#pragma once

#include "core/cpu/elementwise.h"

namespace mod::cuda {

using cpu::BinaryOp;
using cpu::CompareOp;
using cpu::UnaryArgs;
using cpu::UnaryOp;

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b);
Tensor compare(CompareOp op, const Tensor& a, const Tensor& b);
Tensor unary(UnaryOp op, const Tensor& x, UnaryArgs args = {});
Tensor unary_backward(UnaryOp op, const Tensor& x, const Tensor& y, const Tensor& dy, UnaryArgs args = {});
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor swiglu(const Tensor& gate, const Tensor& up);
std::pair<Tensor, Tensor> swiglu_backward(const Tensor& gate, const Tensor& up, const Tensor& dh);

}  // namespace mod::cuda
