#include "core/cpu/reduce.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/cpu/loops.h"

namespace mod::cpu {

namespace {
// Sums in double: a float32 running sum over thousands of terms loses digits a gradient check sees.
template <typename T>
double sum_row(const T* p, int64_t n) {
    double s = 0.0;
    for (int64_t i = 0; i < n; ++i) s += p[i];
    return s;
}
}  // namespace

Tensor row_sum(const Tensor& x) {
    const int64_t rows = x.shape()[0], n = x.shape()[1];
    Tensor out = Tensor::empty({rows}, x.dtype());
    dispatch_float(x.dtype(), "sum", [&](auto z) {
        using T = decltype(z);
        const T* xp = x.data<T>();
        T* op = out.data<T>();
        parallel_for(rows, kParallelGrain / (n + 1), [&](int64_t b, int64_t e) {
            for (int64_t r = b; r < e; ++r) op[r] = T(sum_row(xp + r * n, n));
        });
    });
    return out;
}

Tensor column_sum(const Tensor& x) {
    const int64_t rows = x.shape()[0], n = x.shape()[1];
    Tensor out = Tensor::empty({n}, x.dtype());
    constexpr int64_t kBlock = 256;  // columns per task: a double accumulator row that stays in L1
    const int64_t blocks = (n + kBlock - 1) / kBlock;
    dispatch_float(x.dtype(), "sum", [&](auto z) {
        using T = decltype(z);
        const T* xp = x.data<T>();
        T* op = out.data<T>();
        parallel_for(blocks, rows * n > kParallelGrain ? 0 : blocks, [&](int64_t b, int64_t e) {
            double acc[kBlock];
            for (int64_t block = b; block < e; ++block) {
                const int64_t c0 = block * kBlock, width = std::min(kBlock, n - c0);
                std::fill(acc, acc + width, 0.0);
                for (int64_t r = 0; r < rows; ++r) {
                    const T* row = xp + r * n + c0;
                    for (int64_t j = 0; j < width; ++j) acc[j] += row[j];
                }
                for (int64_t j = 0; j < width; ++j) op[c0 + j] = T(acc[j]);
            }
        });
    });
    return out;
}

std::pair<Tensor, Tensor> row_max(const Tensor& x) {
    const int64_t rows = x.shape()[0], n = x.shape()[1];
    Tensor values = Tensor::empty({rows}, x.dtype());
    Tensor indices = Tensor::empty({rows}, DType::I64);
    dispatch_float(x.dtype(), "max", [&](auto z) {
        using T = decltype(z);
        const T* xp = x.data<T>();
        T* vp = values.data<T>();
        int64_t* ip = indices.data<int64_t>();
        parallel_for(rows, kParallelGrain / (n + 1), [&](int64_t b, int64_t e) {
            for (int64_t r = b; r < e; ++r) {
                const T* row = xp + r * n;
                int64_t best = 0;
                for (int64_t i = 1; i < n; ++i)
                    if (row[i] > row[best] || (std::isnan(row[i]) && !std::isnan(row[best]))) best = i;
                vp[r] = row[best];
                ip[r] = best;
            }
        });
    });
    return {values, indices};
}

Tensor row_logsumexp(const Tensor& x) {
    const int64_t rows = x.shape()[0], n = x.shape()[1];
    Tensor out = Tensor::empty({rows}, x.dtype());
    dispatch_float(x.dtype(), "logsumexp", [&](auto z) {
        using T = decltype(z);
        const T* xp = x.data<T>();
        T* op = out.data<T>();
        parallel_for(rows, kParallelGrain / (n + 1), [&](int64_t b, int64_t e) {
            for (int64_t r = b; r < e; ++r) {
                const T* row = xp + r * n;
                T m = -std::numeric_limits<T>::infinity();
                for (int64_t i = 0; i < n; ++i) m = std::max(m, row[i]);
                if (!std::isfinite(m)) {  // all -inf (or an inf/nan present): the max says it all
                    op[r] = m;
                    continue;
                }
                double s = 0.0;
                for (int64_t i = 0; i < n; ++i) s += std::exp(row[i] - m);
                op[r] = m + T(std::log(s));
            }
        });
    });
    return out;
}

}  // namespace mod::cpu
