// The CPU caching allocator behind every CPU Storage.
//
// Large blocks from malloc come from fresh mmap'd pages: every first touch is a page
// fault, which costs a 16 MiB matmul output about a tenth of its run time, every step.
// Freed large blocks are therefore kept in size classes and handed out again. Small
// blocks go straight to malloc, which already recycles them cheaply.
//
// One process-wide instance (like malloc itself): tensors are freed wherever their last
// handle dies, including loader threads, so it is guarded by a mutex.
#pragma once

#include <cstddef>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace mod {

struct AllocatorStats {
    size_t allocated = 0;       // bytes in live blocks (size-class rounded)
    size_t peak_allocated = 0;  // the most `allocated` has been
    size_t cached = 0;          // bytes in freed blocks kept for reuse
};

class CpuAllocator {
public:
    static CpuAllocator& instance();

    void* allocate(size_t nbytes);
    void deallocate(void* ptr, size_t nbytes) noexcept;
    // Returns every cached block to the system.
    void empty_cache();
    AllocatorStats stats() const;

    // Blocks of at least this size are cached; smaller ones use malloc directly.
    static constexpr size_t kCacheFrom = size_t(1) << 18;
    // The cache gives blocks back to the system beyond this many bytes.
    static constexpr size_t kCacheLimit = size_t(4) << 30;

private:
    CpuAllocator() = default;
    ~CpuAllocator();

    mutable std::mutex mutex_;
    std::unordered_map<size_t, std::vector<void*>> free_;  // size class -> blocks
    AllocatorStats stats_;
};

// The size class of a request: 64-byte multiples below kCacheFrom; above, the next of
// 2^k and 1.5 * 2^k, so that a block can serve any request within a third of its size.
size_t allocation_size_class(size_t nbytes);

}  // namespace mod
