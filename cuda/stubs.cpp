// The CUDA entry points of a build without CUDA: each throws a clear DeviceError, so a
// program asking for device=cuda fails with one line instead of a link error or a crash.
#include "core/error.h"
#include "cuda/memory.h"

namespace mod::cuda {

namespace {
[[noreturn]] void no_cuda(const char* op) {
    throw DeviceError(detail::format_error(op, "built without CUDA: reconfigure with -DMOD_CUDA=ON on a machine with the CUDA toolkit"));
}
}  // namespace

bool is_available() { return false; }
int device_count() { return 0; }
void* device_malloc(size_t, int) { no_cuda("cuda_malloc"); }
void device_free(void*, int) noexcept {}
void copy_host_to_device(void*, const void*, size_t, int) { no_cuda("to(cuda)"); }
void copy_device_to_host(void*, const void*, size_t, int) { no_cuda("to(cpu)"); }
void copy_device_to_device(void*, const void*, size_t, int) { no_cuda("copy(cuda)"); }

}  // namespace mod::cuda
