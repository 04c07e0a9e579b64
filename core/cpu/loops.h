// The strided loop every elementwise CPU kernel is built on.
//
// A shape is walked as rows of its last dim: for each row, f receives the element offset
// of that row in each of N operands and the operands' strides along the last dim, so the
// inner loop is a plain (often unit-stride) loop the compiler vectorises. Rows run in
// parallel with OpenMP when there is enough work to pay for the threads.
#pragma once

#include <array>
#include <cstdint>

#include "core/shape.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace mod::cpu {

// Below this many elements a loop stays on one thread: waking the team costs more.
constexpr int64_t kParallelGrain = 1 << 15;

template <size_t N, typename F>
void for_each_row(const Shape& shape, const std::array<const Strides*, N>& strides, F&& f) {
    const int64_t total = shape_numel(shape);
    if (total == 0) return;
    const int64_t nd = static_cast<int64_t>(shape.size());
    const int64_t inner_n = nd ? shape[nd - 1] : 1;
    std::array<int64_t, N> inner{};
    for (size_t k = 0; k < N; ++k) inner[k] = nd ? (*strides[k])[nd - 1] : 0;
    const int64_t rows = total / inner_n;
#pragma omp parallel for schedule(static) if (total > kParallelGrain && rows > 1)
    for (int64_t r = 0; r < rows; ++r) {
        std::array<int64_t, N> base{};
        int64_t rem = r;
        for (int64_t d = nd - 2; d >= 0; --d) {
            int64_t i = rem % shape[d];
            rem /= shape[d];
            for (size_t k = 0; k < N; ++k) base[k] += i * (*strides[k])[d];
        }
        f(base, inner_n, inner);
    }
}

// Runs f(begin, end) over [0, n) split into contiguous chunks, one per thread.
template <typename F>
void parallel_for(int64_t n, int64_t grain, F&& f) {
    if (n <= 0) return;
#pragma omp parallel if (n > grain)
    {
#ifdef _OPENMP
        const int64_t nt = omp_get_num_threads(), id = omp_get_thread_num();
#else
        const int64_t nt = 1, id = 0;
#endif
        const int64_t chunk = (n + nt - 1) / nt;
        const int64_t b = id * chunk, e = b + chunk < n ? b + chunk : n;
        if (b < e) f(b, e);
    }
}

}  // namespace mod::cpu
