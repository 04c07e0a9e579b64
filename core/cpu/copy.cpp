#include "core/cpu/copy.h"

#include "core/cpu/loops.h"

namespace mod::cpu {

void copy_into(const Tensor& src, const Tensor& dst) {
    const Strides ss = broadcast_strides(src.shape(), src.strides(), dst.shape());
    const Strides& ds = dst.strides();
    dispatch_all(src.dtype(), [&](auto s0) {
        using S = decltype(s0);
        dispatch_all(dst.dtype(), [&](auto d0) {
            using D = decltype(d0);
            const S* sp = static_cast<const S*>(src.raw_data());
            D* dp = static_cast<D*>(dst.raw_data());
            for_each_row<2>(dst.shape(), {&ss, &ds}, [&](auto base, int64_t n, auto inner) {
                const S* s = sp + base[0];
                D* d = dp + base[1];
                if (inner[0] == 1 && inner[1] == 1) {
                    for (int64_t i = 0; i < n; ++i) d[i] = convert<D>(s[i]);
                } else {
                    for (int64_t i = 0; i < n; ++i) d[i * inner[1]] = convert<D>(s[i * inner[0]]);
                }
            });
        });
    });
}

void fill(const Tensor& dst, double value) {
    dispatch_all(dst.dtype(), [&](auto d0) {
        using D = decltype(d0);
        const D v = convert<D>(value);
        D* dp = static_cast<D*>(dst.raw_data());
        for_each_row<1>(dst.shape(), {&dst.strides()}, [&](auto base, int64_t n, auto inner) {
            for (int64_t i = 0; i < n; ++i) dp[base[0] + i * inner[0]] = v;
        });
    });
}

}  // namespace mod::cpu
