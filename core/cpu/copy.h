// Strided copy with dtype conversion, and fill: the kernels behind contiguous(), to(),
// copy_(), clone(), cat() and the factories.
#pragma once

#include "core/tensor.h"

namespace mod::cpu {

// dst[i] = convert(src[i]) for every index of dst; src broadcasts to dst.shape().
void copy_into(const Tensor& src, const Tensor& dst);
void fill(const Tensor& dst, double value);

}  // namespace mod::cpu
