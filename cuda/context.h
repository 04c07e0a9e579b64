// The CUDA runtime context: one stream and one cuBLAS handle per device, created on first
// use, and the checks every CUDA, cuBLAS and kernel-launch call goes through.
//
// Every kernel and copy of the backend runs on stream(device), so work on one device is
// ordered without explicit synchronisation; the host waits only where it reads results
// (copies to the host, item()).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

namespace mod::cuda {

// Throw DeviceError("[op] what failed: <reason>") when a call did not succeed.
void check(cudaError_t err, const char* op, const char* what);
void check(cublasStatus_t status, const char* op, const char* what);
// After a kernel launch: a bad configuration surfaces here, naming the op.
void check_launch(const char* op);

cudaStream_t stream(int device);
cublasHandle_t cublas(int device);

// Makes `device` current for the scope and restores the previous one after.
class DeviceGuard {
public:
    explicit DeviceGuard(int device);
    ~DeviceGuard();
    DeviceGuard(const DeviceGuard&) = delete;
    DeviceGuard& operator=(const DeviceGuard&) = delete;

private:
    int previous_ = 0;
};

}  // namespace mod::cuda

#define MOD_CUDA_CHECK(op, call) ::mod::cuda::check((call), op, #call)
