// Picks an op's kernel by the device of a tensor: MOD_KERNEL(x, softmax_forward)(rows) calls
// cpu::softmax_forward or cuda::softmax_forward. Both backends declare each kernel with one
// signature (core/cpu/<family>.h, cuda/<family>.h), so the public op, its checks and its
// backward are written once for both devices.
#pragma once

#define MOD_KERNEL(tensor, kernel) ((tensor).device().is_cuda() ? &::mod::cuda::kernel : &::mod::cpu::kernel)
