// CUDA device memory and host/device copies. Without CUDA in the build every function
// here throws DeviceError("... built without CUDA") (cuda/stubs.cpp).
#pragma once

#include <cstddef>

namespace mod::cuda {

// True when the build has CUDA and at least one device is visible.
bool is_available();
int device_count();

// Device blocks come from a caching allocator: a freed block is kept and handed out again
// for a request of its size class, because cudaMalloc and cudaFree synchronise the device.
void* device_malloc(size_t nbytes, int device);
void device_free(void* ptr, size_t nbytes, int device) noexcept;

struct MemoryStats {
    size_t allocated = 0;       // bytes in live blocks
    size_t reserved = 0;        // bytes held from the driver: live plus cached
    size_t peak_allocated = 0;  // the most `allocated` has been
};
MemoryStats memory_stats(int device);
void reset_peak_memory(int device);
// Returns every cached block of every device to the driver.
void empty_cache();

// Byte copies; the device side is `device`. Synchronous with respect to the host.
void copy_host_to_device(void* dst, const void* src, size_t nbytes, int device);
void copy_device_to_host(void* dst, const void* src, size_t nbytes, int device);
void copy_device_to_device(void* dst, const void* src, size_t nbytes, int device);
// Waits for all work queued on the device's stream (benchmarks, timing).
void synchronize(int device);

}  // namespace mod::cuda
