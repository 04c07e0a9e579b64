// The CPU caching allocator: size classes, reuse of freed large blocks, statistics.
#include "core/allocator.h"
#include "core/tensor.h"
#include "testing.h"

namespace mod {
namespace {

TEST(Allocator, SizeClasses) {
    EXPECT_EQ(allocation_size_class(1), 64u);
    EXPECT_EQ(allocation_size_class(64), 64u);
    EXPECT_EQ(allocation_size_class(65), 128u);
    const size_t base = CpuAllocator::kCacheFrom;
    EXPECT_EQ(allocation_size_class(base), base);
    EXPECT_EQ(allocation_size_class(base + 1), base + base / 2);
    EXPECT_EQ(allocation_size_class(base + base / 2 + 1), 2 * base);
    for (size_t n : {size_t(300000), size_t(5) << 20, size_t(123456789)}) {
        const size_t c = allocation_size_class(n);
        EXPECT_GE(c, n);
        EXPECT_LE(c, n + n / 2 + 64);  // never more than half again the request
    }
}

TEST(Allocator, FreedLargeBlocksAreReused) {
    const Shape big{1 << 20};  // 4 MiB of float32
    void* first;
    {
        Tensor t = Tensor::empty(big);
        first = t.raw_data();
    }
    const AllocatorStats cached = CpuAllocator::instance().stats();
    EXPECT_GE(cached.cached, size_t(4) << 20);
    Tensor again = Tensor::empty(big);
    EXPECT_EQ(again.raw_data(), first);
    EXPECT_GE(CpuAllocator::instance().stats().peak_allocated, size_t(4) << 20);
}

}  // namespace
}  // namespace mod
