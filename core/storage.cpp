#include "core/storage.h"

#include "core/allocator.h"
#include "cuda/memory.h"

namespace mod {

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
    if (nbytes == 0) return;
    if (device.is_cpu()) {
        data_ = CpuAllocator::instance().allocate(nbytes);
    } else {
        data_ = cuda::device_malloc(nbytes, device.index);
    }
}

Storage::~Storage() {
    if (!data_) return;
    if (device_.is_cpu()) {
        CpuAllocator::instance().deallocate(data_, nbytes_);
    } else {
        cuda::device_free(data_, nbytes_, device_.index);
    }
}

}  // namespace mod
