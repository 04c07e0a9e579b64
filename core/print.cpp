// Readable printing: nested brackets in row-major order; large tensors show the first and
// last three entries of each dim, like NumPy.
#include <cmath>
#include <cstdio>
#include <ostream>

#include "autograd/node.h"
#include "core/tensor.h"

namespace mod {

namespace {

constexpr int64_t kSummariseAbove = 1000;
constexpr int64_t kEdgeItems = 3;

std::string format_value(double v, bool integral) {
    char buf[32];
    if (integral) {
        std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
    } else if (std::isfinite(v) && v != 0.0 && (std::fabs(v) >= 1e5 || std::fabs(v) < 1e-4)) {
        std::snprintf(buf, sizeof buf, "%.4e", v);
    } else {
        std::snprintf(buf, sizeof buf, "%.4f", v);
    }
    return buf;
}

void print_dim(std::string& s, const std::vector<double>& v, const Shape& shape, const Strides& strides, int64_t d,
               int64_t offset, bool summarise, bool integral) {
    if (d == static_cast<int64_t>(shape.size())) {
        s += format_value(v[offset], integral);
        return;
    }
    s += '[';
    const int64_t n = shape[d];
    for (int64_t i = 0; i < n; ++i) {
        if (summarise && n > 2 * kEdgeItems && i == kEdgeItems) {
            s += "..., ";
            i = n - kEdgeItems;
        }
        print_dim(s, v, shape, strides, d + 1, offset + i * strides[d], summarise, integral);
        if (i + 1 < n) s += d + 1 == static_cast<int64_t>(shape.size()) ? ", " : ",\n" + std::string(d + 8, ' ');
    }
    s += ']';
}

}  // namespace

std::string Tensor::str() const {
    if (!defined()) return "tensor(undefined)";
    const std::vector<double> values = to_vector<double>();
    const bool integral = !is_floating(dtype());
    std::string s = "tensor(";
    print_dim(s, values, shape(), contiguous_strides(shape()), 0, 0, numel() > kSummariseAbove, integral);
    s += ", shape=" + shape_str(shape()) + ", dtype=" + dtype_name(dtype());
    if (!device().is_cpu()) s += ", device=" + device().str();
    if (requires_grad()) s += grad_fn() ? ", grad_fn=" + grad_fn()->name() : std::string(", requires_grad");
    return s + ")";
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

}  // namespace mod
