// Deterministic counter-based random numbers (Philox-4x32-10, Salmon et al. 2011).
//
// Element i of a fill draws from counter (offset + i, lane) under the key `seed`: the
// numbers depend only on (seed, offset, i), never on thread count or scheduling, so the
// same seed gives the same tensor on any machine. Each fill advances the offset by the
// number of elements it drew, so consecutive fills differ.
#pragma once

#include <array>
#include <cstdint>

#include "core/tensor.h"

namespace mod {

class Generator {
public:
    explicit Generator(uint64_t seed = 0) : seed_(seed) {}
    uint64_t seed() const { return seed_; }
    // The counter position: saved with a checkpoint so that a resumed run draws the same numbers.
    uint64_t offset() const { return offset_; }
    void set_offset(uint64_t offset) { offset_ = offset; }
    // Reserves n counters and returns the first.
    uint64_t advance(uint64_t n) {
        uint64_t first = offset_;
        offset_ += n;
        return first;
    }

private:
    uint64_t seed_;
    uint64_t offset_ = 0;
};

// Four 32-bit random words for a 128-bit counter (hi, lo) under a 64-bit key.
std::array<uint32_t, 4> philox4x32(uint64_t counter_lo, uint64_t counter_hi, uint64_t key);

// In-place fills (they bump the version counter like every in-place write).
void uniform_(Tensor& t, double lo, double hi, Generator& gen);
void normal_(Tensor& t, double mean, double std, Generator& gen);
// Normal(0, std) redrawn outside [-2 std, 2 std] (the ViT initialiser).
void trunc_normal_(Tensor& t, double std, Generator& gen);
// Uniform(-bound, bound) with bound = gain * sqrt(6 / (fan_in + fan_out)); t is (out, in, ...).
void xavier_uniform_(Tensor& t, Generator& gen, double gain = 1.0);
// torch.nn.Linear's default: Uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)); t is (out, in, ...).
void linear_uniform_(Tensor& t, Generator& gen);

Tensor rand(const Shape& shape, Generator& gen, DType dtype = DType::F32);   // Uniform[0, 1)
Tensor randn(const Shape& shape, Generator& gen, DType dtype = DType::F32);  // Normal(0, 1)

}  // namespace mod
