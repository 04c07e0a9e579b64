#include "core/allocator.h"

#include <cstdlib>
#include <new>

namespace mod {

namespace {
constexpr size_t kAlignment = 64;  // one cache line; enough for AVX-512 loads
}

size_t allocation_size_class(size_t nbytes) {
    if (nbytes < CpuAllocator::kCacheFrom) return (nbytes + kAlignment - 1) / kAlignment * kAlignment;
    size_t p = CpuAllocator::kCacheFrom;
    while (p < nbytes) {
        if (p + p / 2 >= nbytes) return p + p / 2;
        p *= 2;
    }
    return p;
}

CpuAllocator& CpuAllocator::instance() {
    static CpuAllocator allocator;
    return allocator;
}

CpuAllocator::~CpuAllocator() { empty_cache(); }

void* CpuAllocator::allocate(size_t nbytes) {
    const size_t size = allocation_size_class(nbytes);
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stats_.allocated += size;
        stats_.peak_allocated = std::max(stats_.peak_allocated, stats_.allocated);
        if (size >= kCacheFrom) {
            auto it = free_.find(size);
            if (it != free_.end() && !it->second.empty()) {
                void* p = it->second.back();
                it->second.pop_back();
                stats_.cached -= size;
                return p;
            }
        }
    }
    void* p = std::aligned_alloc(kAlignment, size);
    if (!p) {
        std::lock_guard<std::mutex> lock(mutex_);
        stats_.allocated -= size;
        throw std::bad_alloc();
    }
    return p;
}

void CpuAllocator::deallocate(void* ptr, size_t nbytes) noexcept {
    const size_t size = allocation_size_class(nbytes);
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stats_.allocated -= size;
        if (size >= kCacheFrom && stats_.cached + size <= kCacheLimit) {
            free_[size].push_back(ptr);
            stats_.cached += size;
            return;
        }
    }
    std::free(ptr);
}

void CpuAllocator::empty_cache() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [size, blocks] : free_)
        for (void* p : blocks) std::free(p);
    free_.clear();
    stats_.cached = 0;
}

AllocatorStats CpuAllocator::stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
}

}  // namespace mod
