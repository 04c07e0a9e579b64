// Indexing ops. Each views its tensors as (outer, n, inner) around the indexed dim.
// Backward of a gather is a scatter-add of the gradient to the gathered positions, and
// backward of a scatter-add is a gather of the gradient.
#include "core/index.h"

#include "autograd/node.h"
#include "core/cpu/index.h"
#include "core/dispatch.h"
#include "core/profile.h"
#include "cuda/index.h"

namespace mod {

namespace {

// (outer, n, inner) sizes of a shape around dim.
Shape around(const Shape& shape, int64_t dim) {
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < dim; ++d) outer *= shape[d];
    for (size_t d = dim + 1; d < shape.size(); ++d) inner *= shape[d];
    return {outer, shape[dim], inner};
}

// Contiguous int64 copy of index on x's device, with every entry checked to lie in [0, n).
// The check reads the indices on the host: an index of a GPU tensor is copied back once.
Tensor checked_index(const Tensor& index, int64_t n, const Tensor& x, const char* op) {
    check_defined(index, op, "index");
    MOD_CHECK(index.dtype() == DType::I64 || index.dtype() == DType::I32, DTypeError, op,
              "int32 or int64 indices expected, got ", dtype_name(index.dtype()));
    Tensor idx = index.to(DType::I64).contiguous();
    Tensor host = idx.to(Device::cpu());
    const int64_t* p = host.data<int64_t>();
    for (int64_t i = 0; i < host.numel(); ++i)
        MOD_CHECK(p[i] >= 0 && p[i] < n, ValueError, op, "indices in [0, ", n, ") expected, got ", p[i],
                  " at position ", i);
    return idx.to(x.device());
}

Tensor index_select_impl(const Tensor& x, int64_t dim, const Tensor& index, const char* op) {
    OpTimer timer(op);
    check_float(x, op, "x");
    dim = normalize_dim(dim, x.dim(), op);
    const Shape x3 = around(x.shape(), dim);
    Tensor idx = checked_index(index, x3[1], x, op);
    Tensor rows = x.contiguous().reshape(x3);
    Tensor out3 = MOD_KERNEL(rows, index_select)(rows, idx);
    // d index_select = index_add of the gradient into zeros at the selected rows.
    record(op, out3, {rows}, [x3, idx](const Tensor& g, const Node&) -> TensorList {
        Tensor dx = Tensor::zeros(x3, g.dtype(), g.device());
        MOD_KERNEL(g, index_add)(dx, idx, g.contiguous());
        return {dx};
    });
    Shape out_shape = x.shape();
    out_shape[dim] = idx.numel();
    return out3.view(out_shape);
}

Tensor index_add_impl(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
    const char* op = "index_add";
    OpTimer timer(op);
    check_float(x, op, "x");
    check_float(src, op, "src");
    dim = normalize_dim(dim, x.dim(), op);
    check_defined(index, op, "index");
    MOD_CHECK(index.dim() == 1, ShapeError, op, "a 1-D index expected, got ", shape_str(index.shape()));
    Shape want = x.shape();
    want[dim] = index.numel();
    MOD_CHECK(src.shape() == want, ShapeError, op, "src of shape ", shape_str(want), " expected, got ",
              shape_str(src.shape()));
    MOD_CHECK(src.dtype() == x.dtype(), DTypeError, op, "src of dtype ", dtype_name(x.dtype()), " expected, got ",
              dtype_name(src.dtype()));
    const Shape x3 = around(x.shape(), dim);
    check_same_device(x, src, op);
    Tensor idx = checked_index(index, x3[1], x, op);
    Tensor src3 = src.contiguous().reshape(around(src.shape(), dim));
    Tensor out = x.detach().contiguous().reshape(x3).clone();
    MOD_KERNEL(out, index_add)(out, idx, src3);
    // d x = g; d src = index_select(g) at the rows it was added to.
    record(op, out, {x.reshape(x3), src3}, [idx](const Tensor& g, const Node& node) -> TensorList {
        TensorList grads(2);
        Tensor gc = g.contiguous();
        if (node.needs_input_grad(0)) grads[0] = gc;
        if (node.needs_input_grad(1)) grads[1] = MOD_KERNEL(gc, index_select)(gc, idx);
        return grads;
    });
    return out.view(x.shape());
}

void check_index_shape(const Tensor& x, const Tensor& index, int64_t dim, const char* op) {
    bool ok = index.dim() == x.dim();
    for (int64_t d = 0; ok && d < x.dim(); ++d) ok = d == dim || index.size(d) == x.size(d);
    MOD_CHECK(ok, ShapeError, op, "index with the shape of x except in dim ", dim, " expected, got x ",
              shape_str(x.shape()), " and index ", shape_str(index.shape()));
}

Shape index3(const Tensor& index, int64_t dim) { return around(index.shape(), dim); }

}  // namespace

Tensor embedding(const Tensor& weight, const Tensor& ids) {
    check_float(weight, "embedding", "weight");
    MOD_CHECK(weight.dim() == 2, ShapeError, "embedding", "a (V, D) weight expected, got ",
              shape_str(weight.shape()));
    check_defined(ids, "embedding", "ids");
    Shape out_shape = ids.shape();
    out_shape.push_back(weight.size(1));
    return index_select_impl(weight, 0, ids.reshape({-1}), "embedding").view(out_shape);
}

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
    check_defined(index, "index_select", "index");
    MOD_CHECK(index.dim() == 1, ShapeError, "index_select", "a 1-D index expected, got ", shape_str(index.shape()));
    return index_select_impl(x, dim, index, "index_select");
}

Tensor index_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
    return index_add_impl(x, dim, index, src);
}

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
    OpTimer timer("gather");
    check_float(x, "gather", "x");
    dim = normalize_dim(dim, x.dim(), "gather");
    check_defined(index, "gather", "index");
    check_index_shape(x, index, dim, "gather");
    const Shape x3 = around(x.shape(), dim);
    Tensor idx = checked_index(index, x3[1], x, "gather").view(index3(index, dim));
    Tensor rows = x.contiguous().reshape(x3);
    Tensor out = MOD_KERNEL(rows, gather)(rows, idx);
    // d gather = scatter_add of the gradient into zeros at the gathered positions.
    record("gather", out, {rows}, [x3, idx](const Tensor& g, const Node&) -> TensorList {
        Tensor dx = Tensor::zeros(x3, g.dtype(), g.device());
        MOD_KERNEL(g, scatter_add)(dx, idx, g.contiguous());
        return {dx};
    });
    return out.view(index.shape());
}

Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
    OpTimer timer("scatter_add");
    check_float(x, "scatter_add", "x");
    check_float(src, "scatter_add", "src");
    dim = normalize_dim(dim, x.dim(), "scatter_add");
    check_defined(index, "scatter_add", "index");
    check_index_shape(x, index, dim, "scatter_add");
    MOD_CHECK(src.shape() == index.shape(), ShapeError, "scatter_add", "src with the index's shape ",
              shape_str(index.shape()), " expected, got ", shape_str(src.shape()));
    MOD_CHECK(src.dtype() == x.dtype(), DTypeError, "scatter_add", "src of dtype ", dtype_name(x.dtype()),
              " expected, got ", dtype_name(src.dtype()));
    const Shape x3 = around(x.shape(), dim);
    check_same_device(x, src, "scatter_add");
    Tensor idx = checked_index(index, x3[1], x, "scatter_add").view(index3(index, dim));
    Tensor src3 = src.contiguous().reshape(idx.shape());
    Tensor out = x.detach().contiguous().reshape(x3).clone();
    MOD_KERNEL(out, scatter_add)(out, idx, src3);
    // d x = g; d src = gather(g) at the scattered positions.
    Tensor x_rows = x.reshape(x3);
    record("scatter_add", out, {x_rows, src3}, [idx](const Tensor& g, const Node& node) -> TensorList {
        TensorList grads(2);
        Tensor gc = g.contiguous();
        if (node.needs_input_grad(0)) grads[0] = gc;
        if (node.needs_input_grad(1)) grads[1] = MOD_KERNEL(gc, gather)(gc, idx);
        return grads;
    });
    return out.view(x.shape());
}

std::pair<Tensor, Tensor> topk(const Tensor& x, int64_t k, int64_t dim, bool largest) {
    OpTimer timer("topk");
    check_float(x, "topk", "x");
    dim = normalize_dim(dim, x.dim(), "topk");
    const int64_t n = x.size(dim);
    MOD_CHECK(k >= 0 && k <= n, ValueError, "topk", "k in [0, ", n, "] expected for dim ", dim, " of ",
              shape_str(x.shape()), ", got ", k);
    Tensor moved = x.transpose(dim, -1);
    Shape moved_shape = moved.shape();
    Tensor rows = moved.contiguous().reshape({-1, n});
    auto [values, indices] = MOD_KERNEL(rows, topk_rows)(rows.detach(), k, largest);
    // d values = g placed at the chosen positions of each row, zeros elsewhere.
    record("topk", values, {rows}, [n, indices = indices](const Tensor& g, const Node&) -> TensorList {
        const int64_t r = g.size(0), kk = g.size(1);
        Tensor dx = Tensor::zeros({r, n, 1}, g.dtype(), g.device());
        MOD_KERNEL(g, scatter_add)(dx, indices.view({r, kk, 1}), g.contiguous().view({r, kk, 1}));
        return {dx.view({r, n})};
    });
    moved_shape.back() = k;
    return {values.view(moved_shape).transpose(dim, -1), indices.view(moved_shape).transpose(dim, -1)};
}

}  // namespace mod
