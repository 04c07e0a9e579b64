#include "core/cpu/index.h"

#include <algorithm>
#include <numeric>

#include "core/cpu/loops.h"

namespace mod::cpu {

Tensor index_select(const Tensor& x, const Tensor& index) {
    const int64_t outer = x.size(0), n = x.size(1), inner = x.size(2), m = index.numel();
    Tensor out = Tensor::empty({outer, m, inner}, x.dtype());
    const int64_t* ip = index.data<int64_t>();
    dispatch_float(x.dtype(), "index_select", [&](auto z) {
        using T = decltype(z);
        const T* xp = x.data<T>();
        T* op = out.data<T>();
        parallel_for(outer * m, kParallelGrain / (inner + 1), [&](int64_t b, int64_t e) {
            for (int64_t r = b; r < e; ++r) {
                const int64_t o = r / m, j = r % m;
                std::copy_n(xp + (o * n + ip[j]) * inner, inner, op + r * inner);
            }
        });
    });
    return out;
}

void index_add(const Tensor& dx, const Tensor& index, const Tensor& dy) {
    const int64_t outer = dx.size(0), n = dx.size(1), inner = dx.size(2), m = index.numel();
    const int64_t* ip = index.data<int64_t>();
    dispatch_float(dx.dtype(), "index_add", [&](auto z) {
        using T = decltype(z);
        T* dp = dx.data<T>();
        const T* gp = dy.data<T>();
        // Column blocks of 64 keep each thread's writes on its own cache lines.
        const int64_t block = 64, blocks = (inner + block - 1) / block;
        parallel_for(outer * blocks, 0, [&](int64_t b, int64_t e) {
            for (int64_t t = b; t < e; ++t) {
                const int64_t o = t / blocks, c0 = (t % blocks) * block, c1 = std::min(inner, c0 + block);
                for (int64_t j = 0; j < m; ++j) {
                    T* drow = dp + (o * n + ip[j]) * inner;
                    const T* grow = gp + (o * m + j) * inner;
                    for (int64_t c = c0; c < c1; ++c) drow[c] += grow[c];
                }
            }
        });
    });
}

Tensor gather(const Tensor& x, const Tensor& index) {
    const int64_t outer = x.size(0), n = x.size(1), inner = x.size(2), m = index.size(1);
    Tensor out = Tensor::empty(index.shape(), x.dtype());
    const int64_t* ip = index.data<int64_t>();
    dispatch_float(x.dtype(), "gather", [&](auto z) {
        using T = decltype(z);
        const T* xp = x.data<T>();
        T* op = out.data<T>();
        parallel_for(outer * m * inner, kParallelGrain, [&](int64_t b, int64_t e) {
            for (int64_t t = b; t < e; ++t) {
                const int64_t o = t / (m * inner), c = t % inner;
                op[t] = xp[(o * n + ip[t]) * inner + c];
            }
        });
    });
    return out;
}

void scatter_add(const Tensor& out, const Tensor& index, const Tensor& src) {
    const int64_t outer = out.size(0), n = out.size(1), inner = out.size(2), m = index.size(1);
    const int64_t* ip = index.data<int64_t>();
    dispatch_float(out.dtype(), "scatter_add", [&](auto z) {
        using T = decltype(z);
        T* op = out.data<T>();
        const T* sp = src.data<T>();
        // Parallel over (outer, inner) columns: all writes of one column come from one thread.
        parallel_for(outer * inner, kParallelGrain / (m + 1), [&](int64_t b, int64_t e) {
            for (int64_t col = b; col < e; ++col) {
                const int64_t o = col / inner, c = col % inner;
                for (int64_t j = 0; j < m; ++j) {
                    const int64_t t = (o * m + j) * inner + c;
                    op[(o * n + ip[t]) * inner + c] += sp[t];
                }
            }
        });
    });
}

std::pair<Tensor, Tensor> topk_rows(const Tensor& x, int64_t k, bool largest) {
    const int64_t rows = x.size(0), n = x.size(1);
    Tensor values = Tensor::empty({rows, k}, x.dtype());
    Tensor indices = Tensor::empty({rows, k}, DType::I64);
    dispatch_float(x.dtype(), "topk", [&](auto z) {
        using T = decltype(z);
        const T* xp = x.data<T>();
        T* vp = values.data<T>();
        int64_t* ip = indices.data<int64_t>();
        parallel_for(rows, kParallelGrain / (n + 1), [&](int64_t b, int64_t e) {
            std::vector<int64_t> order(n);
            for (int64_t r = b; r < e; ++r) {
                const T* row = xp + r * n;
                std::iota(order.begin(), order.end(), 0);
                auto before = [&](int64_t i, int64_t j) {
                    if (row[i] != row[j]) return largest ? row[i] > row[j] : row[i] < row[j];
                    return i < j;
                };
                std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
                for (int64_t j = 0; j < k; ++j) {
                    ip[r * k + j] = order[j];
                    vp[r * k + j] = row[order[j]];
                }
            }
        });
    });
    return {values, indices};
}

}  // namespace mod::cpu
