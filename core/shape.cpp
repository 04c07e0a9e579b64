#include "core/shape.h"

#include <algorithm>

#include "core/error.h"

namespace mod {

int64_t shape_numel(const Shape& shape) {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    return n;
}

Strides contiguous_strides(const Shape& shape) {
    Strides strides(shape.size());
    int64_t s = 1;
    for (size_t i = shape.size(); i-- > 0;) {
        strides[i] = s;
        s *= std::max<int64_t>(shape[i], 1);
    }
    return strides;
}

std::string shape_str(const Shape& shape) {
    std::string s = "(";
    for (size_t i = 0; i < shape.size(); ++i) {
        if (i) s += ',';
        s += std::to_string(shape[i]);
    }
    return s + ")";
}

int64_t normalize_dim(int64_t dim, int64_t ndim, const char* op) {
    MOD_CHECK(dim >= -ndim && dim < ndim, ValueError, op, "dim in [", -ndim, ", ", ndim, ") expected, got ", dim);
    return dim < 0 ? dim + ndim : dim;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
    size_t n = std::max(a.size(), b.size());
    Shape out(n);
    for (size_t i = 0; i < n; ++i) {
        int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
        int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
        MOD_CHECK(da == db || da == 1 || db == 1, ShapeError, op, "shapes that broadcast expected, got ",
                  shape_str(a), " and ", shape_str(b));
        out[i] = da == 1 ? db : da;
    }
    return out;
}

Strides broadcast_strides(const Shape& shape, const Strides& strides, const Shape& to) {
    Strides out(to.size(), 0);
    size_t lead = to.size() - shape.size();
    for (size_t i = 0; i < shape.size(); ++i) out[lead + i] = shape[i] == 1 ? 0 : strides[i];
    return out;
}

}  // namespace mod
