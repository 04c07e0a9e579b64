#include "core/random.h"

#include <cmath>

#include "core/cpu/loops.h"

namespace mod {

namespace {

constexpr uint32_t kPhiloxM0 = 0xD2511F53u, kPhiloxM1 = 0xCD9E8D57u;
constexpr uint32_t kPhiloxW0 = 0x9E3779B9u, kPhiloxW1 = 0xBB67AE85u;
constexpr double kTwoPi = 6.283185307179586;

// A double in [0, 1) from 53 random bits.
double unit(uint32_t hi, uint32_t lo) {
    const uint64_t bits = (static_cast<uint64_t>(hi) << 21) ^ (lo >> 11);
    return static_cast<double>(bits & ((uint64_t(1) << 53) - 1)) * 0x1.0p-53;
}

// Standard normal for element `i`, draw `round` (Box-Muller on two 53-bit uniforms).
double normal_at(uint64_t i, uint64_t round, uint64_t key) {
    auto r = philox4x32(i, round, key);
    const double u1 = 1.0 - unit(r[0], r[1]);  // (0, 1]: log stays finite
    const double u2 = unit(r[2], r[3]);
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(kTwoPi * u2);
}

// Fills t (any layout) with f(element index in row-major order).
template <typename F>
void fill_indexed(Tensor& t, const char* op, F f) {
    check_float(t, op, "tensor");
    Tensor dense = Tensor::empty(t.shape(), DType::F64);
    double* p = dense.data<double>();
    cpu::parallel_for(t.numel(), 4096, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) p[i] = f(static_cast<uint64_t>(i));
    });
    t.copy_(dense);
}

std::pair<int64_t, int64_t> fans(const Tensor& t, const char* op) {
    MOD_CHECK(t.dim() >= 2, ShapeError, op, "a weight with at least 2 dims (out, in, ...) expected, got ",
              shape_str(t.shape()));
    const int64_t receptive = t.numel() / (t.size(0) * t.size(1));
    return {t.size(1) * receptive, t.size(0) * receptive};
}

}  // namespace

std::array<uint32_t, 4> philox4x32(uint64_t counter_lo, uint64_t counter_hi, uint64_t key) {
    uint32_t c0 = static_cast<uint32_t>(counter_lo), c1 = static_cast<uint32_t>(counter_lo >> 32);
    uint32_t c2 = static_cast<uint32_t>(counter_hi), c3 = static_cast<uint32_t>(counter_hi >> 32);
    uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
    for (int round = 0; round < 10; ++round) {
        const uint64_t p0 = static_cast<uint64_t>(kPhiloxM0) * c0;
        const uint64_t p1 = static_cast<uint64_t>(kPhiloxM1) * c2;
        const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1 ^ k0;
        const uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3 ^ k1;
        c0 = n0;
        c1 = static_cast<uint32_t>(p1);
        c2 = n2;
        c3 = static_cast<uint32_t>(p0);
        k0 += kPhiloxW0;
        k1 += kPhiloxW1;
    }
    return {c0, c1, c2, c3};
}

void uniform_(Tensor& t, double lo, double hi, Generator& gen) {
    const uint64_t base = gen.advance(static_cast<uint64_t>(t.numel())), key = gen.seed();
    fill_indexed(t, "uniform_", [&](uint64_t i) {
        auto r = philox4x32(base + i, 0, key);
        return lo + (hi - lo) * unit(r[0], r[1]);
    });
}

void normal_(Tensor& t, double mean, double std, Generator& gen) {
    const uint64_t base = gen.advance(static_cast<uint64_t>(t.numel())), key = gen.seed();
    fill_indexed(t, "normal_", [&](uint64_t i) { return mean + std * normal_at(base + i, 0, key); });
}

void trunc_normal_(Tensor& t, double std, Generator& gen) {
    const uint64_t base = gen.advance(static_cast<uint64_t>(t.numel())), key = gen.seed();
    // Each element redraws from its own counter stream (round 1, 2, ...) until inside
    // [-2, 2]: deterministic per element whatever the thread schedule.
    fill_indexed(t, "trunc_normal_", [&](uint64_t i) {
        double z = normal_at(base + i, 0, key);
        for (uint64_t round = 1; std::fabs(z) > 2.0; ++round) z = normal_at(base + i, round, key);
        return std * z;
    });
}

void xavier_uniform_(Tensor& t, Generator& gen, double gain) {
    auto [fan_in, fan_out] = fans(t, "xavier_uniform_");
    const double bound = gain * std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
    uniform_(t, -bound, bound, gen);
}

void linear_uniform_(Tensor& t, Generator& gen) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(fans(t, "linear_uniform_").first));
    uniform_(t, -bound, bound, gen);
}

Tensor rand(const Shape& shape, Generator& gen, DType dtype) {
    Tensor t = Tensor::empty(shape, dtype);
    uniform_(t, 0.0, 1.0, gen);
    return t;
}

Tensor randn(const Shape& shape, Generator& gen, DType dtype) {
    Tensor t = Tensor::empty(shape, dtype);
    normal_(t, 0.0, 1.0, gen);
    return t;
}

}  // namespace mod
