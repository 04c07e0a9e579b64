// Strided copy with dtype conversion, and fill, on the GPU: the kernels behind contiguous(),
// to(dtype), copy_(), clone(), cat() and the factories for CUDA tensors.
#include "cuda/copy.h"
#include "cuda/device_utils.cuh"
#include "cuda/memory.h"

namespace mod::cuda {

namespace {

template <typename S, typename D>
__global__ void copy_contiguous_kernel(const S* src, D* dst, int64_t n) {
    MOD_GRID_STRIDE(i, n) { dst[i] = cast<D>(src[i]); }
}

template <typename S, typename D>
__global__ void copy_strided_kernel(const S* src, D* dst, int64_t n, StridedIndexer<2> ix) {
    MOD_GRID_STRIDE(i, n) {
        const auto off = ix.offsets(i);
        dst[off[1]] = cast<D>(src[off[0]]);
    }
}

template <typename D>
__global__ void fill_kernel(D* dst, int64_t n, StridedIndexer<1> ix, D value) {
    MOD_GRID_STRIDE(i, n) { dst[ix.offsets(i)[0]] = value; }
}

}  // namespace

void copy_into(const Tensor& src, const Tensor& dst) {
    const int64_t n = dst.numel();
    if (n == 0) return;
    const int dev = dst.device().index;
    DeviceGuard guard(dev);
    const Strides ss = broadcast_strides(src.shape(), src.strides(), dst.shape());
    const bool dense = src.is_contiguous() && dst.is_contiguous() && src.shape() == dst.shape();
    if (dense && src.dtype() == dst.dtype()) {
        copy_device_to_device(dst.raw_data(), src.raw_data(), n * dtype_size(dst.dtype()), dev);
        return;
    }
    const StridedIndexer<2> ix = make_indexer<2>(dst.shape(), {ss, dst.strides()}, "copy");
    dispatch_device_all(src.dtype(), [&](auto s0) {
        using S = decltype(s0);
        dispatch_device_all(dst.dtype(), [&](auto d0) {
            using D = decltype(d0);
            if (dense) {
                copy_contiguous_kernel<S, D><<<blocks_for(n), kThreads, 0, stream(dev)>>>(ptr<S>(src), ptr<D>(dst), n);
            } else {
                copy_strided_kernel<S, D><<<blocks_for(n), kThreads, 0, stream(dev)>>>(ptr<S>(src), ptr<D>(dst), n, ix);
            }
        });
    });
    check_launch("copy");
}

void fill(const Tensor& dst, double value) {
    const int64_t n = dst.numel();
    if (n == 0) return;
    const int dev = dst.device().index;
    DeviceGuard guard(dev);
    const StridedIndexer<1> ix = make_indexer<1>(dst.shape(), {dst.strides()}, "fill");
    dispatch_device_all(dst.dtype(), [&](auto d0) {
        using D = decltype(d0);
        fill_kernel<D><<<blocks_for(n), kThreads, 0, stream(dev)>>>(ptr<D>(dst), n, ix, cast<D>(value));
    });
    check_launch("fill");
}

}  // namespace mod::cuda
