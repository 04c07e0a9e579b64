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

struct RowLayout {
    Tensor rows;     // (outer, R) view or copy of x
    Shape out_shape;  // the result's shape, with or without kept dims
    int64_t reduced = 1;
};

RowLayout to_rows(const Tensor& x, std::vector<int64_t> dims, bool keepdim, const char* op) {
    OpTimer timer(op, " (layout)");
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
    std::vector<int64_t> perm;
    RowLayout layout;
    int64_t outer = 1;
    for (int64_t d = 0; d < nd; ++d) {
        if (reduce[d]) {
            if (keepdim) layout.out_shape.push_back(1);
            continue;
        }
        perm.push_back(d);
        layout.out_shape.push_back(x.shape()[d]);
        outer *= x.shape()[d];
    }
    for (int64_t d = 0; d < nd; ++d)
        if (reduce[d]) {
            perm.push_back(d);
            layout.reduced *= x.shape()[d];
        }
    layout.rows = (nd ? x.permute(perm) : x).reshape({outer, layout.reduced}).contiguous();
    return layout;
}

// k when dims are exactly the leading dims 0..k-1 of x (0 < k < x.dim()), else 0.
int64_t leading_dims(const Tensor& x, std::vector<int64_t> dims) {
    const int64_t nd = x.dim();
    for (int64_t& d : dims) d = normalize_dim(d, nd, "sum");
    std::sort(dims.begin(), dims.end());
    const int64_t k = static_cast<int64_t>(dims.size());
    if (k == 0 || k >= nd) return 0;
    for (int64_t i = 0; i < k; ++i)
        if (dims[i] != i) return 0;
    return k;
}

// sum over the leading k dims of a contiguous CPU tensor: a column sum of its (R, C) view.
Tensor sum_leading(const Tensor& x, int64_t k, bool keepdim) {
    int64_t R = 1;
    Shape out_shape;
    for (int64_t d = 0; d < x.dim(); ++d) {
        if (d < k) {
            R *= x.shape()[d];
            if (keepdim) out_shape.push_back(1);
        } else {
            out_shape.push_back(x.shape()[d]);
        }
    }
    Tensor cols = x.reshape({R, -1});
    Tensor out = cpu::column_sum(cols);
    // d sum = g broadcast over the reduced rows.
    record("sum", out, {cols}, [R](const Tensor& g, const Node&) -> TensorList {
        return {g.unsqueeze(0).expand({R, g.shape()[0]}).contiguous()};
    });
    return out.reshape(out_shape);
}

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
    OpTimer timer("sum");
    check_defined(x, "sum", "x");
    if (const int64_t k = leading_dims(x, dims); k > 0 && x.device().is_cpu() && x.is_contiguous() && x.numel() > 0)
        return sum_leading(x, k, keepdim);
    RowLayout L = to_rows(x, dims, keepdim, "sum");
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
