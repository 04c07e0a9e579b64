// What every CUDA kernel file shares: device element types, the float accumulator type,
// the dtype dispatch, strided indexing, launch sizes and block reductions.
#pragma once

#include <cuda_bf16.h>

#include <array>
#include <cfloat>
#include <cstdint>

#include "core/tensor.h"
#include "cuda/context.h"

namespace mod::cuda {

// bfloat16 lives on the device as __nv_bfloat16; arithmetic happens in the accumulator
// type: float for float32 and bfloat16, double for float64.
template <typename T> struct acc_of { using type = T; };
template <> struct acc_of<__nv_bfloat16> { using type = float; };
template <typename T> using acc_t = typename acc_of<T>::type;

template <typename To, typename From>
__host__ __device__ inline To cast(From v) {
    if constexpr (std::is_same_v<From, __nv_bfloat16>) {
        return cast<To>(__bfloat162float(v));
    } else if constexpr (std::is_same_v<To, __nv_bfloat16>) {
        return __float2bfloat16_rn(static_cast<float>(v));
    } else if constexpr (std::is_same_v<To, bool>) {
        return v != From(0);
    } else {
        return static_cast<To>(v);
    }
}

// Runs f(T{}) with T the device type of dt; every dtype.
template <typename F>
void dispatch_device_all(DType dt, F&& f) {
    switch (dt) {
        case DType::F32: f(float{}); return;
        case DType::F64: f(double{}); return;
        case DType::BF16: f(__nv_bfloat16{}); return;
        case DType::I32: f(int32_t{}); return;
        case DType::I64: f(int64_t{}); return;
        case DType::Bool: f(bool{}); return;
    }
}

// Runs f(T{}) for the float dtypes kernels compute in: float32, float64 and bfloat16.
template <typename F>
void dispatch_device_float(DType dt, const char* op, F&& f) {
    switch (dt) {
        case DType::F32: f(float{}); return;
        case DType::F64: f(double{}); return;
        case DType::BF16: f(__nv_bfloat16{}); return;
        default: break;
    }
    throw DTypeError(detail::format_error(op, "float32, float64 or bfloat16 expected, got ", dtype_name(dt)));
}

template <typename T>
T* ptr(const Tensor& t) {
    return static_cast<T*>(t.raw_data());
}

template <int N>
struct Offsets {
    int64_t v[N];
    __device__ int64_t operator[](int k) const { return v[k]; }
};

// Element offsets of N operands for a linear index over a shape of at most kMaxDims dims,
// passed to kernels by value. Strides of broadcast dims are 0.
constexpr int kMaxDims = 8;

template <int N>
struct StridedIndexer {
    int ndim = 0;
    int64_t sizes[kMaxDims] = {};
    int64_t strides[N][kMaxDims] = {};

    __device__ Offsets<N> offsets(int64_t linear) const {
        Offsets<N> off{};
        for (int d = ndim - 1; d >= 0; --d) {
            const int64_t i = linear % sizes[d];
            linear /= sizes[d];
            for (int k = 0; k < N; ++k) off.v[k] += i * strides[k][d];
        }
        return off;
    }
};

// Builds the indexer of `shape` with each operand's strides (already broadcast to shape).
// Dims of size 1 are dropped and neighbouring dims that are contiguous in every operand
// merged, so that common cases index with one or two divisions.
template <int N>
StridedIndexer<N> make_indexer(const Shape& shape, const std::array<Strides, N>& strides, const char* op) {
    StridedIndexer<N> ix;
    for (size_t d = 0; d < shape.size(); ++d) {
        if (shape[d] == 1) continue;
        bool merge = ix.ndim > 0;
        for (int k = 0; k < N && merge; ++k)
            merge = ix.strides[k][ix.ndim - 1] == strides[k][d] * shape[d];
        if (merge) {
            ix.sizes[ix.ndim - 1] *= shape[d];
            for (int k = 0; k < N; ++k) ix.strides[k][ix.ndim - 1] = strides[k][d];
            continue;
        }
        MOD_CHECK(ix.ndim < kMaxDims, ShapeError, op, "at most ", kMaxDims,
                  " non-mergeable dims on the GPU expected, got shape ", shape_str(shape));
        ix.sizes[ix.ndim] = shape[d];
        for (int k = 0; k < N; ++k) ix.strides[k][ix.ndim] = strides[k][d];
        ++ix.ndim;
    }
    return ix;
}

// Grid-stride launches: enough blocks to fill the GPU, never more than the work needs.
constexpr int kThreads = 256;
inline unsigned blocks_for(int64_t n) {
    const int64_t b = (n + kThreads - 1) / kThreads;
    return static_cast<unsigned>(b < 65536 ? (b > 0 ? b : 1) : 65536);
}

// Row kernels run one block per row and loop over rows with a grid stride, so any number of
// rows fits a grid of at most `cap` blocks.
constexpr int64_t kMaxRowBlocks = 65535;
inline unsigned row_blocks(int64_t rows, int64_t cap = kMaxRowBlocks) {
    return static_cast<unsigned>(rows < 1 ? 1 : (rows < cap ? rows : cap));
}

#define MOD_GRID_STRIDE(i, n) \
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(blockDim.x) * gridDim.x)

template <typename T>
__device__ inline T warp_sum(T v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

template <typename T>
__device__ inline T warp_max(T v) {
    for (int o = 16; o > 0; o >>= 1) {
        const T w = __shfl_xor_sync(0xffffffffu, v, o);
        v = w > v ? w : v;
    }
    return v;
}

// Sum over the block; every thread gets the result. `scratch` holds 32 values of T.
template <typename T>
__device__ inline T block_sum(T v, T* scratch) {
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = (blockDim.x + 31) / 32;
    v = warp_sum(v);
    __syncthreads();  // scratch may still be read by a previous call
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < warps ? scratch[lane] : T(0);
    return warp_sum(v);
}

template <typename T>
__device__ inline T block_max(T v, T* scratch) {
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = (blockDim.x + 31) / 32;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < warps ? scratch[lane] : T(-INFINITY);
    return warp_max(v);
}

}  // namespace mod::cuda
