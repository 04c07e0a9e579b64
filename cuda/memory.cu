// CUDA device memory: a caching allocator per device, and host/device copies, every runtime
// call checked.
//
// cudaMalloc and cudaFree synchronise the whole device, so a training step that allocated
// its activations from the driver would stall at every tensor. Freed blocks are kept in
// size classes (those of the CPU allocator) and handed out again. Every kernel runs on the
// device's one stream, so a block freed by the host can be reused at once: any later use
// is queued behind the work that read it.
#include <mutex>
#include <unordered_map>
#include <vector>

#include "core/allocator.h"
#include "core/error.h"
#include "cuda/context.h"
#include "cuda/memory.h"

namespace mod::cuda {

namespace {

class DeviceAllocator {
public:
    static DeviceAllocator& instance() {
        static DeviceAllocator allocator;
        return allocator;
    }

    void* allocate(size_t nbytes, int device) {
        const size_t size = allocation_size_class(nbytes);
        std::lock_guard<std::mutex> lock(mutex_);
        Pool& pool = pool_of(device);
        auto& blocks = pool.free[size];
        void* ptr = nullptr;
        if (!blocks.empty()) {
            ptr = blocks.back();
            blocks.pop_back();
        } else {
            ptr = malloc_from_driver(size, device, pool);
            pool.stats.reserved += size;
        }
        pool.stats.allocated += size;
        if (pool.stats.allocated > pool.stats.peak_allocated) pool.stats.peak_allocated = pool.stats.allocated;
        return ptr;
    }

    void deallocate(void* ptr, size_t nbytes, int device) noexcept {
        const size_t size = allocation_size_class(nbytes);
        std::lock_guard<std::mutex> lock(mutex_);
        Pool& pool = pools_[device];
        pool.free[size].push_back(ptr);
        pool.stats.allocated -= size;
    }

    void empty_cache() {
        std::lock_guard<std::mutex> lock(mutex_);
        for (size_t d = 0; d < pools_.size(); ++d) release_cached(static_cast<int>(d), pools_[d]);
    }

    MemoryStats stats(int device) {
        std::lock_guard<std::mutex> lock(mutex_);
        return pool_of(device).stats;
    }

    void reset_peak(int device) {
        std::lock_guard<std::mutex> lock(mutex_);
        Pool& pool = pool_of(device);
        pool.stats.peak_allocated = pool.stats.allocated;
    }

private:
    struct Pool {
        std::unordered_map<size_t, std::vector<void*>> free;  // size class -> blocks
        MemoryStats stats;
    };

    Pool& pool_of(int device) {
        MOD_CHECK(device >= 0, DeviceError, "cuda", "device index >= 0 expected, got ", device);
        if (static_cast<size_t>(device) >= pools_.size()) pools_.resize(device + 1);
        return pools_[device];
    }

    // Called with the mutex held. On out-of-memory the cache goes back to the driver first,
    // then the request is tried once more before the error says what was asked and held.
    void* malloc_from_driver(size_t size, int device, Pool& pool) {
        DeviceGuard guard(device);
        void* ptr = nullptr;
        cudaError_t err = cudaMalloc(&ptr, size);
        if (err == cudaErrorMemoryAllocation) {
            cudaGetLastError();
            release_cached(device, pool);
            err = cudaMalloc(&ptr, size);
        }
        if (err == cudaErrorMemoryAllocation) {
            cudaGetLastError();
            size_t free_b = 0, total_b = 0;
            cudaMemGetInfo(&free_b, &total_b);
            throw DeviceError(detail::format_error(
                "cuda_malloc", "out of memory on cuda:", device, ": asked ", mib(size), " MiB; tensors hold ",
                mib(pool.stats.allocated), " MiB, the device has ", mib(free_b), " of ", mib(total_b),
                " MiB free; try a smaller batch (batch=) or a shorter sequence"));
        }
        check(err, "cuda_malloc", "cudaMalloc");
        return ptr;
    }

    void release_cached(int device, Pool& pool) {
        DeviceGuard guard(device);
        for (auto& [size, blocks] : pool.free) {
            for (void* p : blocks) cudaFree(p);
            pool.stats.reserved -= size * blocks.size();
            blocks.clear();
        }
    }

    static size_t mib(size_t bytes) { return (bytes + (size_t(1) << 20) - 1) >> 20; }

    // Blocks still cached at exit are left to the driver, which frees them with the context.
    std::mutex mutex_;
    std::vector<Pool> pools_;
};

}  // namespace

bool is_available() { return device_count() > 0; }

int device_count() {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();  // no driver or no device: clear the error, report none
        return 0;
    }
    return n;
}

void* device_malloc(size_t nbytes, int device) {
    MOD_CHECK(device < device_count(), DeviceError, "cuda_malloc", "cuda:", device, " requested, but ",
              device_count(), " CUDA device(s) are visible");
    return DeviceAllocator::instance().allocate(nbytes, device);
}

void device_free(void* ptr, size_t nbytes, int device) noexcept {
    DeviceAllocator::instance().deallocate(ptr, nbytes, device);
}

MemoryStats memory_stats(int device) { return DeviceAllocator::instance().stats(device); }
void reset_peak_memory(int device) { DeviceAllocator::instance().reset_peak(device); }
void empty_cache() { DeviceAllocator::instance().empty_cache(); }

// Copies run on the device's stream so that they are ordered after the kernels that wrote
// the source; the host waits for them, because the host side is pageable memory that the
// caller may free or read as soon as we return.
void copy_host_to_device(void* dst, const void* src, size_t nbytes, int device) {
    DeviceGuard guard(device);
    cudaStream_t s = stream(device);
    MOD_CUDA_CHECK("to(cuda)", cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyHostToDevice, s));
    MOD_CUDA_CHECK("to(cuda)", cudaStreamSynchronize(s));
}

void copy_device_to_host(void* dst, const void* src, size_t nbytes, int device) {
    DeviceGuard guard(device);
    cudaStream_t s = stream(device);
    MOD_CUDA_CHECK("to(cpu)", cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToHost, s));
    MOD_CUDA_CHECK("to(cpu)", cudaStreamSynchronize(s));
}

void copy_device_to_device(void* dst, const void* src, size_t nbytes, int device) {
    DeviceGuard guard(device);
    MOD_CUDA_CHECK("copy(cuda)", cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToDevice, stream(device)));
}

void synchronize(int device) {
    DeviceGuard guard(device);
    MOD_CUDA_CHECK("synchronize", cudaStreamSynchronize(stream(device)));
}

}  // namespace mod::cuda
