// Transcendental functions in plain arithmetic, so that the loops calling them vectorise:
// std::exp is a library call the compiler cannot turn into AVX-512 code, and the sigmoid of
// SiLU and QuickGELU was a tenth of the non-GEMM time of a training step. They vectorise only
// with -fno-trapping-math (CMakeLists.txt): GCC splits exp_f32's clamp into branches.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

namespace mod::cpu {

// e^x for float32, relative error under 3e-7 (tests/test_elementwise.cpp checks it against
// std::exp). x = n ln2 + r with n an integer and |r| <= ln2 / 2 (ln2 split in two parts,
// so that n ln2 is exact); e^r by its Taylor series to r^7 (remainder under 5e-9); 2^n
// written straight into the exponent bits. x is clamped to [-87.3, 88.3], where both e^x
// and 2^n are normal floats: callers use it where saturation is what they want (sigmoid).
inline float exp_f32(float x) {
    constexpr float kLog2e = 1.44269504088896341f;
    constexpr float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
    constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding and subtracting it rounds to an integer
    x = std::min(std::max(x, -87.3f), 88.3f);
    const float n = (x * kLog2e + kRound) - kRound;
    const float r = (x - n * kLn2Hi) - n * kLn2Lo;
    float p = 1.0f / 5040;
    p = p * r + 1.0f / 720;
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
    float scale;
    std::memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

// The logistic function 1 / (1 + e^-x): exp_f32 for float, std::exp for double (the
// float64 gradient checks compare against finite differences at full precision).
template <typename T>
T sigmoid_of(T x) {
    if constexpr (std::is_same_v<T, float>) {
        return 1.0f / (1.0f + exp_f32(-x));
    } else {
        return T(1) / (T(1) + std::exp(-x));
    }
}

// e^x: exp_f32 for float, std::exp for double (as sigmoid_of). Below exp_f32's range the
// float result is 0, so masked entries (-inf) weigh exactly nothing.
template <typename T>
T exp_of(T x) {
    if constexpr (std::is_same_v<T, float>) {
        return x < -87.3f ? 0.0f : exp_f32(x);
    } else {
        return std::exp(x);
    }
}

// Row reductions over kLanes independent partial results: one running max or sum fixes the
// order of the operations, so the compiler keeps it scalar; kLanes of them vectorise.
constexpr int64_t kLanes = 16;

// max_i x[i]; -inf for n = 0.
template <typename T>
T row_max(const T* x, int64_t n) {
    T lane[kLanes];
    std::fill(lane, lane + kLanes, -std::numeric_limits<T>::infinity());
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes)
        for (int64_t l = 0; l < kLanes; ++l) lane[l] = std::max(lane[l], x[i + l]);
    for (; i < n; ++i) lane[0] = std::max(lane[0], x[i]);
    return *std::max_element(lane, lane + kLanes);
}

// sum_{i < n} term(i), term returning T: kLanes partial sums in T, added up in double.
template <typename T, typename F>
double lane_sum(int64_t n, F term) {
    T lane[kLanes] = {};
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes)
        for (int64_t l = 0; l < kLanes; ++l) lane[l] += term(i + l);
    double total = 0.0;
    for (; i < n; ++i) total += term(i);
    for (int64_t l = 0; l < kLanes; ++l) total += lane[l];
    return total;
}

}  // namespace mod::cpu
