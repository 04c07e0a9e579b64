// A refcounted block of memory on one device, shared by every tensor that views it.
//
// The version counter lives here, not in the tensor, so that an in-place write through
// any view of the block is seen by every tensor that autograd saved from that block.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/device.h"

namespace mod {

class Storage {
public:
    // Allocates nbytes (uninitialised) on device; CPU blocks come from CpuAllocator, 64-byte aligned.
    Storage(size_t nbytes, Device device);
    ~Storage();
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;

    void* data() const { return data_; }
    size_t nbytes() const { return nbytes_; }
    Device device() const { return device_; }

    uint64_t version() const { return version_; }
    void bump_version() { ++version_; }

private:
    void* data_ = nullptr;
    size_t nbytes_ = 0;
    Device device_;
    uint64_t version_ = 0;
};

}  // namespace mod
