// Element types. float32 is the working type, float64 exists for gradient checks,
// bfloat16 is a storage type (converted on load and store), int32/int64 hold indices,
// bool holds masks (one byte per element).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "core/error.h"

namespace mod {

enum class DType : uint8_t { F32, F64, BF16, I32, I64, Bool };

size_t dtype_size(DType dt);
const char* dtype_name(DType dt);
bool is_floating(DType dt);  // F32, F64, BF16

// bfloat16: the upper 16 bits of an IEEE float32. Conversion rounds to nearest even
// and keeps NaN a NaN (a plain truncation could turn a NaN payload into infinity).
struct bf16 {
    uint16_t bits = 0;

    bf16() = default;
    explicit bf16(float f) {
        uint32_t u;
        std::memcpy(&u, &f, 4);
        if ((u & 0x7fffffffu) > 0x7f800000u) {
            bits = static_cast<uint16_t>((u >> 16) | 0x40u);  // quiet NaN
        } else {
            uint32_t rounding = 0x7fffu + ((u >> 16) & 1u);
            bits = static_cast<uint16_t>((u + rounding) >> 16);
        }
    }
    explicit operator float() const {
        uint32_t u = static_cast<uint32_t>(bits) << 16;
        float f;
        std::memcpy(&f, &u, 4);
        return f;
    }
};

// Compile-time mapping from C++ type to DType.
template <typename T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::F32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::F64; };
template <> struct dtype_of<bf16> { static constexpr DType value = DType::BF16; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::I32; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::I64; };
template <> struct dtype_of<bool> { static constexpr DType value = DType::Bool; };

// Converts between element types; bf16 goes through float.
template <typename To, typename From>
inline To convert(From v) {
    if constexpr (std::is_same_v<From, bf16>) {
        return convert<To>(static_cast<float>(v));
    } else if constexpr (std::is_same_v<To, bf16>) {
        return bf16(static_cast<float>(v));
    } else if constexpr (std::is_same_v<To, bool>) {
        return v != From(0);
    } else {
        return static_cast<To>(v);
    }
}

// Runs f(T{}) with T the C++ type of a floating compute dtype (float32 or float64).
// This is the one place where templates meet run-time dtypes for float kernels.
template <typename F>
void dispatch_float(DType dt, const char* op, F&& f) {
    switch (dt) {
        case DType::F32: f(float{}); return;
        case DType::F64: f(double{}); return;
        default: break;
    }
    throw DTypeError(detail::format_error(op, "float32 or float64 expected, got ", dtype_name(dt)));
}

// Runs f(T{}) for an index dtype (int32 or int64).
template <typename F>
void dispatch_index(DType dt, const char* op, F&& f) {
    switch (dt) {
        case DType::I32: f(int32_t{}); return;
        case DType::I64: f(int64_t{}); return;
        default: break;
    }
    throw DTypeError(detail::format_error(op, "int32 or int64 indices expected, got ", dtype_name(dt)));
}

// Runs f(T{}) for any dtype.
template <typename F>
void dispatch_all(DType dt, F&& f) {
    switch (dt) {
        case DType::F32: f(float{}); return;
        case DType::F64: f(double{}); return;
        case DType::BF16: f(bf16{}); return;
        case DType::I32: f(int32_t{}); return;
        case DType::I64: f(int64_t{}); return;
        case DType::Bool: f(bool{}); return;
    }
}

}  // namespace mod
