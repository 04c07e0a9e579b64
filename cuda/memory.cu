// CUDA device memory and host/device copies, every runtime call checked.
#include <cuda_runtime.h>

#include <string>

#include "core/error.h"
#include "cuda/memory.h"

namespace mod::cuda {

namespace {
void check(cudaError_t err, const char* op, const char* call) {
    if (err != cudaSuccess)
        throw DeviceError(detail::format_error(op, call, " failed: ", cudaGetErrorString(err)));
}
#define MOD_CUDA_CHECK(op, call) check((call), op, #call)
}  // namespace

bool is_available() { return device_count() > 0; }

int device_count() {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();  // no driver or no device: clear the sticky error, report none
        return 0;
    }
    return n;
}

void* device_malloc(size_t nbytes, int device) {
    MOD_CUDA_CHECK("cuda_malloc", cudaSetDevice(device));
    void* ptr = nullptr;
    cudaError_t err = cudaMalloc(&ptr, nbytes);
    if (err == cudaErrorMemoryAllocation) {
        cudaGetLastError();
        size_t free_b = 0, total_b = 0;
        cudaMemGetInfo(&free_b, &total_b);
        throw DeviceError(detail::format_error("cuda_malloc", "out of memory on cuda:", device, ": asked ",
                                               nbytes, " bytes, ", total_b - free_b, " of ", total_b,
                                               " in use; try a smaller batch"));
    }
    check(err, "cuda_malloc", "cudaMalloc");
    return ptr;
}

void device_free(void* ptr, int device) noexcept {
    cudaSetDevice(device);
    cudaFree(ptr);
}

void copy_host_to_device(void* dst, const void* src, size_t nbytes, int device) {
    MOD_CUDA_CHECK("to(cuda)", cudaSetDevice(device));
    MOD_CUDA_CHECK("to(cuda)", cudaMemcpy(dst, src, nbytes, cudaMemcpyHostToDevice));
}

void copy_device_to_host(void* dst, const void* src, size_t nbytes, int device) {
    MOD_CUDA_CHECK("to(cpu)", cudaSetDevice(device));
    MOD_CUDA_CHECK("to(cpu)", cudaMemcpy(dst, src, nbytes, cudaMemcpyDeviceToHost));
}

void copy_device_to_device(void* dst, const void* src, size_t nbytes, int device) {
    MOD_CUDA_CHECK("copy(cuda)", cudaSetDevice(device));
    MOD_CUDA_CHECK("copy(cuda)", cudaMemcpy(dst, src, nbytes, cudaMemcpyDeviceToDevice));
}

}  // namespace mod::cuda
