// CUDA indexing kernels: the twin of core/cpu/index.cpp. Tensors are contiguous and viewed
// as (outer, n, inner) around the indexed dim; indices are contiguous int64 tensors on the
// same device, already bounds-checked by the caller.
//
// index_select and gather are one thread per output element. index_add and scatter_add
// add with atomicAdd, because any number of sources may land on one element: unlike the
// CPU (which gives each column to one thread), their float sums are not repeatable bit for
// bit when indices repeat.
//
// topk_rows keeps the CPU's order: larger (or smaller) value first, the lower index first
// on ties, and NaN, which the CPU leaves unordered, above every number. Small k runs k
// rounds of a block arg-best per row, each round taking the best entry that comes after
// the previous pick in that order (so no taken-set is stored); larger k sorts whole rows
// with CUB's stable segmented radix sort of (value, index) pairs.
#include <cub/device/device_segmented_radix_sort.cuh>

#include <algorithm>
#include <climits>

#include "cuda/device_utils.cuh"
#include "cuda/index.h"

namespace mod::cuda {

namespace {

// x (outer, n, inner), index (m,) -> out (outer, m, inner)
template <typename T>
__global__ void index_select_kernel(const T* x, const int64_t* index, int64_t n, int64_t m, int64_t inner,
                                    int64_t total, T* out) {
    MOD_GRID_STRIDE(t, total) {
        const int64_t c = t % inner, row = t / inner, j = row % m, o = row / m;
        out[t] = x[(o * n + index[j]) * inner + c];
    }
}

// dx (outer, n, inner) += dy (outer, m, inner) at rows index (m,)
template <typename T>
__global__ void index_add_kernel(T* dx, const int64_t* index, const T* dy, int64_t n, int64_t m,
                                 int64_t inner, int64_t total) {
    MOD_GRID_STRIDE(t, total) {
        const int64_t c = t % inner, row = t / inner, j = row % m, o = row / m;
        atomicAdd(dx + (o * n + index[j]) * inner + c, dy[t]);
    }
}

// x (outer, n, inner), index (outer, m, inner) -> out (outer, m, inner)
template <typename T>
__global__ void gather_kernel(const T* x, const int64_t* index, int64_t n, int64_t m, int64_t inner,
                              int64_t total, T* out) {
    MOD_GRID_STRIDE(t, total) {
        const int64_t c = t % inner, o = t / (m * inner);
        out[t] = x[(o * n + index[t]) * inner + c];
    }
}

// out (outer, n, inner) += src (outer, m, inner) at index (outer, m, inner)
template <typename T>
__global__ void scatter_add_kernel(T* out, const int64_t* index, const T* src, int64_t n, int64_t m,
                                   int64_t inner, int64_t total) {
    MOD_GRID_STRIDE(t, total) {
        const int64_t c = t % inner, o = t / (m * inner);
        atomicAdd(out + (o * n + index[t]) * inner + c, src[t]);
    }
}

// The top-k order on (value, index) pairs, a strict total order: NaN above every number,
// then larger values first when largest (smaller first otherwise), then lower indices.
// Index -1 is "no entry" and comes after everything.
template <typename A>
__device__ inline bool above(A a, A b) {
    if (isnan(a)) return !isnan(b);
    return !isnan(b) && a > b;
}

template <typename A>
__device__ inline bool before(A va, int64_t ia, A vb, int64_t ib, bool largest) {
    if (ia < 0 || ib < 0) return ib < 0 && ia >= 0;
    if (largest ? above(va, vb) : above(vb, va)) return true;
    if (largest ? above(vb, va) : above(va, vb)) return false;
    return ia < ib;
}

// x (rows, n) -> values, indices (rows, k); one block per row (grid stride over rows).
// Round j takes the first entry, in the order above, that comes after the pick of round j - 1.
template <typename T>
__global__ void topk_rounds_kernel(const T* x, int64_t rows, int64_t n, int64_t k, bool largest, T* values,
                                   int64_t* indices) {
    using A = acc_t<T>;
    __shared__ A best_v[32];
    __shared__ int64_t best_i[32];
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = (blockDim.x + 31) / 32;
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const T* row = x + r * n;
        A prev_v = 0;
        int64_t prev_i = -1;  // no pick yet: every entry is eligible
        for (int64_t j = 0; j < k; ++j) {
            A bv = 0;
            int64_t bi = -1;
            for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
                const A v = cast<A>(row[i]);
                if ((prev_i < 0 || before(prev_v, prev_i, v, i, largest)) && before(v, i, bv, bi, largest)) {
                    bv = v;
                    bi = i;
                }
            }
            // The order is total, so every lane of the butterfly ends with the same pair.
            for (int o = 16; o > 0; o >>= 1) {
                const A ov = __shfl_xor_sync(0xffffffffu, bv, o);
                const int64_t oi = __shfl_xor_sync(0xffffffffu, bi, o);
                if (before(ov, oi, bv, bi, largest)) {
                    bv = ov;
                    bi = oi;
                }
            }
            __syncthreads();  // the previous round's pick has been read by every thread
            if (lane == 0) {
                best_v[warp] = bv;
                best_i[warp] = bi;
            }
            __syncthreads();
            bv = 0;
            bi = -1;
            for (int w = 0; w < warps; ++w) {
                if (before(best_v[w], best_i[w], bv, bi, largest)) {
                    bv = best_v[w];
                    bi = best_i[w];
                }
            }
            if (threadIdx.x == 0) {
                values[r * k + j] = row[bi];
                indices[r * k + j] = bi;
            }
            prev_v = bv;
            prev_i = bi;
        }
    }
}

// keys (rows * n) = x with every NaN made the positive quiet NaN (the radix order puts it
// above +inf, and a negative NaN below -inf); vals = the index within the row;
// offsets (rows + 1) = row starts.
template <typename T>
__global__ void topk_sort_inputs_kernel(const T* x, int64_t rows, int64_t n, acc_t<T>* keys, int64_t* vals,
                                        int* offsets) {
    using A = acc_t<T>;
    MOD_GRID_STRIDE(i, rows * n) {
        const A v = cast<A>(x[i]);
        keys[i] = isnan(v) ? A(NAN) : v;
        vals[i] = i % n;
    }
    MOD_GRID_STRIDE(r, rows + 1) offsets[r] = static_cast<int>(r * n);
}

// The first k sorted entries of each row: indices from the sorted vals, values from x.
template <typename T>
__global__ void topk_take_kernel(const T* x, const int64_t* sorted, int64_t n, int64_t k, int64_t total,
                                 T* values, int64_t* indices) {
    MOD_GRID_STRIDE(t, total) {
        const int64_t r = t / k, i = sorted[r * n + t % k];
        indices[t] = i;
        values[t] = x[r * n + i];
    }
}

// Above this k, k passes over a row cost more than sorting it (a handful of radix passes).
constexpr int64_t kMaxRoundsK = 32;

template <typename T>
void topk_by_sort(const Tensor& x, int64_t rows, int64_t n, int64_t k, bool largest, const Tensor& values,
                  const Tensor& indices) {
    using A = acc_t<T>;
    const Device dev = x.device();
    cudaStream_t s = stream(dev.index);
    const int64_t total = rows * n;
    Tensor keys = Tensor::empty({total}, dtype_of<A>::value, dev);
    Tensor sorted_keys = Tensor::empty({total}, dtype_of<A>::value, dev);
    Tensor vals = Tensor::empty({total}, DType::I64, dev);
    Tensor sorted_vals = Tensor::empty({total}, DType::I64, dev);
    Tensor offsets = Tensor::empty({rows + 1}, DType::I32, dev);
    topk_sort_inputs_kernel<T><<<blocks_for(total), kThreads, 0, s>>>(ptr<T>(x), rows, n, ptr<A>(keys),
                                                                      ptr<int64_t>(vals), ptr<int>(offsets));
    check_launch("topk");
    // CUB's usual two calls: the first sizes the scratch space, the second sorts. Radix sort
    // is stable, so equal values keep the lower index first, in either direction.
    const int* begin = ptr<int>(offsets);
    auto sort = [&](void* scratch, size_t& bytes) {
        return largest ? cub::DeviceSegmentedRadixSort::SortPairsDescending(
                             scratch, bytes, ptr<A>(keys), ptr<A>(sorted_keys), ptr<int64_t>(vals),
                             ptr<int64_t>(sorted_vals), static_cast<int>(total), static_cast<int>(rows),
                             begin, begin + 1, 0, int(sizeof(A) * 8), s)
                       : cub::DeviceSegmentedRadixSort::SortPairs(
                             scratch, bytes, ptr<A>(keys), ptr<A>(sorted_keys), ptr<int64_t>(vals),
                             ptr<int64_t>(sorted_vals), static_cast<int>(total), static_cast<int>(rows),
                             begin, begin + 1, 0, int(sizeof(A) * 8), s);
    };
    size_t bytes = 0;
    MOD_CUDA_CHECK("topk", sort(nullptr, bytes));
    // Bool is the one-byte dtype: the scratch space as a tensor, so it returns to the cache.
    Tensor scratch = Tensor::empty({static_cast<int64_t>(std::max<size_t>(bytes, 1))}, DType::Bool, dev);
    MOD_CUDA_CHECK("topk", sort(scratch.raw_data(), bytes));
    topk_take_kernel<T><<<blocks_for(rows * k), kThreads, 0, s>>>(
        ptr<T>(x), ptr<int64_t>(sorted_vals), n, k, rows * k, ptr<T>(values), ptr<int64_t>(indices));
}

}  // namespace

Tensor index_select(const Tensor& x, const Tensor& index) {
    const int64_t outer = x.size(0), n = x.size(1), inner = x.size(2), m = index.numel();
    const Device dev = x.device();
    DeviceGuard guard(dev.index);
    Tensor out = Tensor::empty({outer, m, inner}, x.dtype(), dev);
    const int64_t total = out.numel();
    if (total == 0) return out;
    dispatch_device_float(x.dtype(), "index_select", [&](auto z) {
        using T = decltype(z);
        index_select_kernel<T><<<blocks_for(total), kThreads, 0, stream(dev.index)>>>(
            ptr<T>(x), ptr<int64_t>(index), n, m, inner, total, ptr<T>(out));
    });
    check_launch("index_select");
    return out;
}

void index_add(const Tensor& dx, const Tensor& index, const Tensor& dy) {
    const int64_t n = dx.size(1), inner = dx.size(2), m = index.numel(), total = dy.numel();
    const Device dev = dx.device();
    DeviceGuard guard(dev.index);
    if (total == 0) return;
    dispatch_device_float(dx.dtype(), "index_add", [&](auto z) {
        using T = decltype(z);
        index_add_kernel<T><<<blocks_for(total), kThreads, 0, stream(dev.index)>>>(
            ptr<T>(dx), ptr<int64_t>(index), ptr<T>(dy), n, m, inner, total);
    });
    check_launch("index_add");
}

Tensor gather(const Tensor& x, const Tensor& index) {
    const int64_t n = x.size(1), inner = x.size(2), m = index.size(1);
    const Device dev = x.device();
    DeviceGuard guard(dev.index);
    Tensor out = Tensor::empty(index.shape(), x.dtype(), dev);
    const int64_t total = out.numel();
    if (total == 0) return out;
    dispatch_device_float(x.dtype(), "gather", [&](auto z) {
        using T = decltype(z);
        gather_kernel<T><<<blocks_for(total), kThreads, 0, stream(dev.index)>>>(
            ptr<T>(x), ptr<int64_t>(index), n, m, inner, total, ptr<T>(out));
    });
    check_launch("gather");
    return out;
}

void scatter_add(const Tensor& out, const Tensor& index, const Tensor& src) {
    const int64_t n = out.size(1), inner = out.size(2), m = index.size(1), total = index.numel();
    const Device dev = out.device();
    DeviceGuard guard(dev.index);
    if (total == 0) return;
    dispatch_device_float(out.dtype(), "scatter_add", [&](auto z) {
        using T = decltype(z);
        scatter_add_kernel<T><<<blocks_for(total), kThreads, 0, stream(dev.index)>>>(
            ptr<T>(out), ptr<int64_t>(index), ptr<T>(src), n, m, inner, total);
    });
    check_launch("scatter_add");
}

std::pair<Tensor, Tensor> topk_rows(const Tensor& x, int64_t k, bool largest) {
    const int64_t rows = x.size(0), n = x.size(1);
    const Device dev = x.device();
    DeviceGuard guard(dev.index);
    Tensor values = Tensor::empty({rows, k}, x.dtype(), dev);
    Tensor indices = Tensor::empty({rows, k}, DType::I64, dev);
    if (rows == 0 || k == 0) return {values, indices};
    dispatch_device_float(x.dtype(), "topk", [&](auto z) {
        using T = decltype(z);
        // CUB counts items in int: rows too large for it take the rounds, slower but correct.
        if (k > kMaxRoundsK && rows * n <= INT_MAX) {
            topk_by_sort<T>(x, rows, n, k, largest, values, indices);
        } else {
            const unsigned grid = static_cast<unsigned>(std::min<int64_t>(rows, 65535));
            topk_rounds_kernel<T><<<grid, kThreads, 0, stream(dev.index)>>>(
                ptr<T>(x), rows, n, k, largest, ptr<T>(values), ptr<int64_t>(indices));
        }
    });
    check_launch("topk");
    return {values, indices};
}

}  // namespace mod::cuda
