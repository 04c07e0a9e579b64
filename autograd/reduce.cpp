// Reductions: every reduction over a set of dims is a permute (reduced dims last), a
// reshape to (rows, R), a row kernel, and a reshape to the output. The permute and
// reshape are differentiable views, so each node below only handles (rows, R) -> (rows,).
#include "core/reduce.h"

#include <algorithm>

#include "autograd/node.h"
#include "core/cpu/index.h"
#include "core/cpu/reduce.h"
#include "core/dispatch.h"
#include "core/elementwise.h"
#include "core/profile.h"
#include "cuda/index.h"
#include "cuda/reduce.h"

namespace mod {

namespace {

// Where a reduction over `dims` puts x's dims: the kept ones first, then the reduced ones.
struct Reduction {
    std::vector<int64_t> perm;  // kept dims, then reduced dims
    Shape out_shape;            // the result's shape, with or without kept dims
    int64_t outer = 1, reduced = 1;
    int64_t leading = 0;  // k when the reduced dims are exactly 0..k-1 (0 < k < x.dim()), else 0
};

Reduction reduction_of(const Tensor& x, std::vector<int64_t> dims, bool keepdim, const char* op) {
    check_defined(x, op, "x");
    const int64_t nd = x.dim();
    if (dims.empty())
        for (int64_t d = 0; d < nd; ++d) dims.push_back(d);
    std::vector<bool> reduce(nd, false);
    for (int64_t& d : dims) {
        d = normalize_dim(d, nd, op);
        MOD_CHECK(!reduce[d], ValueError, op, "each dim once expected, got ", shape_str(dims));
        reduce[d] = true;
    }
    Reduction r;
    for (int64_t d = 0; d < nd; ++d) {
        if (reduce[d]) {
            if (keepdim) r.out_shape.push_back(1);
            continue;
        }
        r.perm.push_back(d);
        r.out_shape.push_back(x.shape()[d]);
        r.outer *= x.shape()[d];
    }
    for (int64_t d = 0; d < nd; ++d)
        if (reduce[d]) {
            r.perm.push_back(d);
            r.reduced *= x.shape()[d];
        }
    const int64_t k = static_cast<int64_t>(dims.size());
    if (k < nd && std::all_of(reduce.begin(), reduce.begin() + k, [](bool b) { return b; })) r.leading = k;
    return r;
}

struct RowLayout {
    Tensor rows;      // (outer, R) view or copy of x
    Shape out_shape;  // the result's shape, with or without kept dims
    int64_t reduced = 1;
};

RowLayout to_rows(const Tensor& x, const Reduction& r, const char* op) {
    OpTimer timer(op, " (layout)");
    return {(x.dim() ? x.permute(r.perm) : x).reshape({r.outer, r.reduced}).contiguous(), r.out_shape, r.reduced};
}

RowLayout to_rows(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, const char* op) {
    return to_rows(x, reduction_of(x, dims, keepdim, op), op);
}

// sum over the leading dims of a contiguous CPU tensor: a column sum of its (R, C) view.
Tensor sum_leading(const Tensor& x, const Reduction& r) {
    const int64_t R = r.reduced;
    Tensor cols = x.reshape({R, r.outer});
    Tensor out = cpu::column_sum(cols);
    // d sum = g broadcast over the reduced rows.
    record("sum", out, {cols}, [R](const Tensor& g, const Node&) -> TensorList {
        return {g.unsqueeze(0).expand({R, g.shape()[0]}).contiguous()};
    });
    return out.reshape(r.out_shape);
}

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
    OpTimer timer("sum");
    const Reduction r = reduction_of(x, dims, keepdim, "sum");
    if (r.leading > 0 && x.device().is_cpu() && x.is_contiguous() && x.numel() > 0) return sum_leading(x, r);
    RowLayout L = to_rows(x, r, "sum");
    Tensor out = MOD_KERNEL(x, row_sum)(L.rows);
    const int64_t n = L.reduced;
    // d sum = g broadcast over the reduced dim.
    record("sum", out, {L.rows}, [n](const Tensor& g, const Node&) -> TensorList {
        return {g.unsqueeze(1).expand({g.shape()[0], n}).contiguous()};
    });
    return out.reshape(L.out_shape);
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
    Tensor total = sum(x, dims, keepdim);
    const double n = total.numel() ? static_cast<double>(x.numel()) / static_cast<double>(total.numel()) : 0.0;
    return div(total, n);
}

Tensor max(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
    OpTimer timer("max");
    RowLayout L = to_rows(x, dims, keepdim, "max");
    MOD_CHECK(L.reduced > 0, ShapeError, "max", "a non-empty reduction expected, got shape ", shape_str(x.shape()));
    auto [values, indices] = MOD_KERNEL(x, row_max)(L.rows);
    const int64_t n = L.reduced;
    // d max = g at the position of the maximum, 0 elsewhere.
    record("max", values, {L.rows}, [n, indices = indices](const Tensor& g, const Node&) -> TensorList {
        const int64_t rows = g.size(0);
        Tensor dx = Tensor::zeros({rows, n, 1}, g.dtype(), g.device());
        MOD_KERNEL(g, scatter_add)(dx, indices.view({rows, 1, 1}), g.contiguous().view({rows, 1, 1}));
        return {dx.view({rows, n})};
    });
    return values.reshape(L.out_shape);
}

Tensor logsumexp(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
    OpTimer timer("logsumexp");
    RowLayout L = to_rows(x, dims, keepdim, "logsumexp");
    Tensor out = MOD_KERNEL(x, row_logsumexp)(L.rows);
    SavedTensor saved_x(L.rows), saved_out(out);
    // d lse / dx_i = exp(x_i - lse) = softmax(x)_i.
    record("logsumexp", out, {L.rows}, [=](const Tensor& g, const Node&) -> TensorList {
        Tensor p = exp(sub(saved_x.get("logsumexp"), saved_out.get("logsumexp").unsqueeze(1)));
        return {mul(p, g.unsqueeze(1))};
    });
    return out.reshape(L.out_shape);
}

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
    RowLayout L = to_rows(x, {dim}, keepdim, "argmax");
    MOD_CHECK(L.reduced > 0, ShapeError, "argmax", "a non-empty dim expected, got shape ", shape_str(x.shape()));
    return MOD_KERNEL(x, row_max)(L.rows.detach()).second.reshape(L.out_shape);
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
    if (x.shape() == shape) return x;
    MOD_CHECK(shape.size() <= x.shape().size(), ShapeError, "sum_to", "a shape that broadcasts to ",
              shape_str(x.shape()), " expected, got ", shape_str(shape));
    const int64_t lead = x.dim() - static_cast<int64_t>(shape.size());
    std::vector<int64_t> dims;
    for (int64_t d = 0; d < x.dim(); ++d) {
        if (d < lead) {
            dims.push_back(d);
            continue;
        }
        const int64_t s = shape[d - lead];
        MOD_CHECK(s == x.shape()[d] || s == 1, ShapeError, "sum_to", "a shape that broadcasts to ",
                  shape_str(x.shape()), " expected, got ", shape_str(shape));
        if (s == 1 && x.shape()[d] != 1) dims.push_back(d);
    }
    if (dims.empty()) return x.reshape(shape);
    return sum(x, dims, true).reshape(shape);
}

}  // namespace mod
