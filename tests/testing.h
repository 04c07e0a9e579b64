// Test helpers shared by the engine tests: random float64 leaves and the gradcheck assertion.
#pragma once

#include <gtest/gtest.h>

#include "autograd/gradcheck.h"
#include "core/random.h"
#include "core/tensor.h"

namespace mod::testing {

// A float64 leaf of `shape` with normal entries, requiring grad.
inline Tensor leaf(const Shape& shape, uint64_t seed, double scale = 1.0) {
    Generator gen(seed);
    Tensor t = Tensor::empty(shape, DType::F64);
    normal_(t, 0.0, scale, gen);
    return t.requires_grad_();
}

// A float64 leaf whose last two dims are a transposed view: exercises non-contiguous inputs.
inline Tensor transposed_leaf(const Shape& shape, uint64_t seed) {
    Shape swapped = shape;
    std::swap(swapped[swapped.size() - 1], swapped[swapped.size() - 2]);
    return leaf(swapped, seed).detach().transpose(-1, -2).requires_grad_();
}

inline Tensor uniform_leaf(const Shape& shape, uint64_t seed, double lo, double hi) {
    Generator gen(seed);
    Tensor t = Tensor::empty(shape, DType::F64);
    uniform_(t, lo, hi, gen);
    return t.requires_grad_();
}

}  // namespace mod::testing

#define EXPECT_GRADCHECK(fn, ...)                                         \
    do {                                                                  \
        auto gc_result_ = ::mod::gradcheck(fn, __VA_ARGS__);              \
        EXPECT_TRUE(gc_result_.ok) << "gradient mismatch:\n" << gc_result_.message; \
    } while (0)
