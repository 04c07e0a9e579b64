// Streams and cuBLAS handles per device, and the error checks.
#include <mutex>
#include <vector>

#include "core/error.h"
#include "cuda/context.h"

namespace mod::cuda {

namespace {

// The process's CUDA context: like the allocators, one instance, guarded by a mutex,
// because tensors are created and freed on loader threads as well as the main one.
class Context {
public:
    static Context& instance() {
        static Context context;
        return context;
    }

    cudaStream_t stream(int device) { return slot(device).stream; }
    cublasHandle_t cublas(int device) { return slot(device).cublas; }

private:
    struct Slot {
        cudaStream_t stream = nullptr;
        cublasHandle_t cublas = nullptr;
    };

    Slot& slot(int device) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (device < 0) throw DeviceError(detail::format_error("cuda", "device index >= 0 expected, got ", device));
        if (static_cast<size_t>(device) >= slots_.size()) slots_.resize(device + 1);
        Slot& s = slots_[device];
        if (!s.stream) {
            DeviceGuard guard(device);
            MOD_CUDA_CHECK("cuda", cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking));
            MOD_CUDA_CHECK("cuda", cublasCreate(&s.cublas));
            MOD_CUDA_CHECK("cuda", cublasSetStream(s.cublas, s.stream));
        }
        return s;
    }

    // Handles and streams are left to the driver at process exit: destroying them from a
    // static destructor can run after the CUDA runtime has shut down.
    std::mutex mutex_;
    std::vector<Slot> slots_;
};

}  // namespace

void check(cudaError_t err, const char* op, const char* what) {
    if (err == cudaSuccess) return;
    cudaGetLastError();  // clear a non-sticky error so that the next call does not report it
    throw DeviceError(detail::format_error(op, what, " failed: ", cudaGetErrorString(err)));
}

void check(cublasStatus_t status, const char* op, const char* what) {
    if (status == CUBLAS_STATUS_SUCCESS) return;
    throw DeviceError(detail::format_error(op, what, " failed: ", cublasGetStatusName(status), " (",
                                           cublasGetStatusString(status), ")"));
}

void check_launch(const char* op) { check(cudaGetLastError(), op, "kernel launch"); }

cudaStream_t stream(int device) { return Context::instance().stream(device); }
cublasHandle_t cublas(int device) { return Context::instance().cublas(device); }

DeviceGuard::DeviceGuard(int device) {
    MOD_CUDA_CHECK("cuda", cudaGetDevice(&previous_));
    if (previous_ != device) MOD_CUDA_CHECK("cuda", cudaSetDevice(device));
}

DeviceGuard::~DeviceGuard() {
    int now = 0;
    if (cudaGetDevice(&now) == cudaSuccess && now != previous_) cudaSetDevice(previous_);
}

}  // namespace mod::cuda
