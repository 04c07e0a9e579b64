// CUDA optimizer updates: each one fused kernel over a parameter (see nn/optim.cpp for the
// formulas), and the sum of squares behind clip_grad_norm.
#pragma once

#include "core/tensor.h"

namespace mod::cuda {

// AdamW on p with gradient g and moments m, v (all one float dtype, contiguous, one device):
//   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
//   p = p * decay_factor - step_size * m / (sqrt(v) / bias2_sqrt + eps)
// with step_size = lr / (1 - b1^t), bias2_sqrt = sqrt(1 - b2^t), decay_factor = 1 - lr wd.
void adamw_update(const Tensor& p, const Tensor& g, const Tensor& m, const Tensor& v, double beta1, double beta2,
                  double eps, double decay_factor, double step_size, double bias2_sqrt);
// SGD: g' = g + wd p; with momentum buf = mu buf + g', step = nesterov ? g' + mu buf : buf;
// p -= lr step. buf is undefined when momentum is 0.
void sgd_update(const Tensor& p, const Tensor& g, const Tensor& buf, double lr, double momentum, bool nesterov,
                double weight_decay);
// sum(g^2) in double; g contiguous.
double sum_of_squares(const Tensor& g);
// g *= factor in place.
void scale_(const Tensor& g, double factor);

}  // namespace mod::cuda
