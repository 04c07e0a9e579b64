// CUDA device memory and host/device copies. Without CUDA in the build every function
// here throws DeviceError("... built without CUDA") (cuda/stubs.cpp).
#pragma once

#include <cstddef>

namespace mod::cuda {

// True when the build has CUDA and at least one device is visible.
bool is_available();
int device_count();

void* device_malloc(size_t nbytes, int device);
void device_free(void* ptr, int device) noexcept;

// Byte copies; the device side is `device`. Synchronous with respect to the host.
void copy_host_to_device(void* dst, const void* src, size_t nbytes, int device);
void copy_device_to_host(void* dst, const void* src, size_t nbytes, int device);
void copy_device_to_device(void* dst, const void* src, size_t nbytes, int device);

}  // namespace mod::cuda
