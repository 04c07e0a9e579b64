// CUDA strided copy with dtype conversion, and fill (see core/cpu/copy.h).
#pragma once

#include "core/tensor.h"

namespace mod::cuda {

void copy_into(const Tensor& src, const Tensor& dst);  // both on one device; src broadcasts to dst
void fill(const Tensor& dst, double value);

}  // namespace mod::cuda
