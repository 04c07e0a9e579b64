// Views and copies with their backward: reshape, permute, narrow, expand, squeeze,
// unsqueeze, contiguous, clone, to(dtype), cat, stack, split, chunk.
//
// A view shares storage with its input; its backward maps the output gradient back to
// the input's shape (reshape back, inverse permute, zero-pad, sum over broadcast dims).
#include <numeric>
#include <optional>

#include "autograd/node.h"
#include "core/cpu/copy.h"
#include "core/dispatch.h"
#include "core/profile.h"
#include "core/reduce.h"
#include "core/view.h"
#include "cuda/copy.h"

namespace mod {

namespace {

// Strides that let (old_shape, old_strides) be read as new_shape without a copy, or
// nullopt. Dims of the old shape are walked in chunks that are contiguous in memory;
// each chunk must map onto a run of new dims with the same element count.
std::optional<Strides> view_strides(const Shape& old_shape, const Strides& old_strides, const Shape& new_shape) {
    if (old_shape.empty() || shape_numel(old_shape) == 0) return contiguous_strides(new_shape);
    Strides out(new_shape.size());
    int64_t view_d = static_cast<int64_t>(new_shape.size()) - 1;
    int64_t chunk_base = old_strides.back(), tensor_numel = 1, view_numel = 1;
    for (int64_t d = static_cast<int64_t>(old_shape.size()) - 1; d >= 0; --d) {
        tensor_numel *= old_shape[d];
        bool chunk_ends = d == 0 || (old_shape[d - 1] != 1 && old_strides[d - 1] != tensor_numel * chunk_base);
        if (!chunk_ends) continue;
        while (view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d] == 1)) {
            out[view_d] = view_numel * chunk_base;
            view_numel *= new_shape[view_d];
            --view_d;
        }
        if (view_numel != tensor_numel) return std::nullopt;
        if (d > 0) {
            chunk_base = old_strides[d - 1];
            tensor_numel = 1;
            view_numel = 1;
        }
    }
    if (view_d != -1) return std::nullopt;
    return out;
}

// Resolves one -1 in a requested shape from the element count.
Shape infer_shape(const Shape& shape, int64_t numel, const char* op) {
    Shape out = shape;
    int64_t known = 1, infer = -1;
    for (size_t i = 0; i < out.size(); ++i) {
        if (out[i] == -1) {
            MOD_CHECK(infer < 0, ValueError, op, "at most one -1 expected in shape ", shape_str(shape));
            infer = static_cast<int64_t>(i);
        } else {
            MOD_CHECK(out[i] >= 0, ValueError, op, "non-negative sizes expected, got ", shape_str(shape));
            known *= out[i];
        }
    }
    if (infer >= 0) {
        MOD_CHECK(known != 0 && numel % known == 0, ShapeError, op, "shape ", shape_str(shape),
                  " compatible with ", numel, " elements expected");
        out[infer] = numel / known;
    }
    MOD_CHECK(shape_numel(out) == numel, ShapeError, op, "shape with ", numel, " elements expected, got ",
              shape_str(shape));
    return out;
}

Tensor reshape_view(const Tensor& x, const Shape& shape, const Strides& strides, const char* op) {
    Tensor out = make_view(x, shape, strides, x.offset());
    const Shape in_shape = x.shape();
    record(op, out, {x}, [in_shape](const Tensor& g, const Node&) -> TensorList { return {g.reshape(in_shape)}; });
    return out;
}

}  // namespace

Tensor Tensor::view(const Shape& shape) const {
    Shape target = infer_shape(shape, numel(), "view");
    auto strides = view_strides(this->shape(), this->strides(), target);
    MOD_CHECK(strides.has_value(), ShapeError, "view", "a layout that allows viewing ", shape_str(this->shape()),
              " as ", shape_str(target), " expected; the strides do not allow it, use reshape()");
    return reshape_view(*this, target, *strides, "view");
}

Tensor Tensor::reshape(const Shape& shape) const {
    Shape target = infer_shape(shape, numel(), "reshape");
    if (auto strides = view_strides(this->shape(), this->strides(), target))
        return reshape_view(*this, target, *strides, "reshape");
    return contiguous().view(target);
}

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
    MOD_CHECK(static_cast<int64_t>(dims.size()) == dim(), ValueError, "permute", dim(), " dims expected, got ",
              dims.size());
    Shape shape(dims.size());
    Strides strides(dims.size());
    std::vector<int64_t> inverse(dims.size(), -1);
    for (size_t i = 0; i < dims.size(); ++i) {
        int64_t d = normalize_dim(dims[i], dim(), "permute");
        MOD_CHECK(inverse[d] < 0, ValueError, "permute", "each dim once expected, got ", shape_str(dims));
        inverse[d] = static_cast<int64_t>(i);
        shape[i] = this->shape()[d];
        strides[i] = this->strides()[d];
    }
    Tensor out = make_view(*this, shape, strides, offset());
    record("permute", out, {*this},
           [inverse](const Tensor& g, const Node&) -> TensorList { return {g.permute(inverse)}; });
    return out;
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
    std::vector<int64_t> dims(dim());
    std::iota(dims.begin(), dims.end(), 0);
    std::swap(dims[normalize_dim(d0, dim(), "transpose")], dims[normalize_dim(d1, dim(), "transpose")]);
    return permute(dims);
}

Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
    d = normalize_dim(d, dim(), "narrow");
    const int64_t n = shape()[d];
    if (start < 0) start += n;
    MOD_CHECK(start >= 0 && length >= 0 && start + length <= n, ValueError, "narrow", "a range inside [0, ", n,
              ") of dim ", d, " expected, got start ", start, " length ", length, " on shape ", shape_str(shape()));
    Shape shape = this->shape();
    shape[d] = length;
    Tensor out = make_view(*this, shape, strides(), offset() + start * strides()[d]);
    const Shape in_shape = this->shape();
    // d narrow = the gradient placed at [start, start+length) of zeros.
    record("narrow", out, {*this}, [in_shape, d, start, length](const Tensor& g, const Node&) -> TensorList {
        Tensor dx = Tensor::zeros(in_shape, g.dtype(), g.device());
        dx.narrow(d, start, length).copy_(g);
        return {dx};
    });
    return out;
}

Tensor Tensor::select(int64_t d, int64_t index) const {
    d = normalize_dim(d, dim(), "select");
    MOD_CHECK(index >= -shape()[d] && index < shape()[d], ValueError, "select", "index in [", -shape()[d], ", ",
              shape()[d], ") expected, got ", index);
    if (index < 0) index += shape()[d];
    return narrow(d, index, 1).squeeze(d);
}

Tensor Tensor::expand(const Shape& shape) const {
    MOD_CHECK(shape.size() >= this->shape().size(), ShapeError, "expand", "at least ", dim(),
              " dims expected, got ", shape_str(shape));
    const size_t lead = shape.size() - this->shape().size();
    Shape target = shape;
    for (size_t i = 0; i < this->shape().size(); ++i) {
        int64_t& t = target[lead + i];
        if (t == -1) t = this->shape()[i];
        MOD_CHECK(t == this->shape()[i] || this->shape()[i] == 1, ShapeError, "expand", "shape ",
                  shape_str(this->shape()), " broadcastable to ", shape_str(shape), " expected");
    }
    Tensor out = make_view(*this, target, broadcast_strides(this->shape(), strides(), target), offset());
    const Shape in_shape = this->shape();
    record("expand", out, {*this}, [in_shape](const Tensor& g, const Node&) -> TensorList {
        return {sum_to(g, in_shape)};
    });
    return out;
}

Tensor Tensor::squeeze(int64_t d) const {
    d = normalize_dim(d, dim(), "squeeze");
    MOD_CHECK(shape()[d] == 1, ShapeError, "squeeze", "size 1 at dim ", d, " expected, got shape ",
              shape_str(shape()));
    Shape shape = this->shape();
    Strides strides = this->strides();
    shape.erase(shape.begin() + d);
    strides.erase(strides.begin() + d);
    return reshape_view(*this, shape, strides, "squeeze");
}

Tensor Tensor::unsqueeze(int64_t d) const {
    d = normalize_dim(d, dim() + 1, "unsqueeze");
    Shape shape = this->shape();
    Strides strides = this->strides();
    int64_t stride = d < dim() ? strides[d] * shape[d] : 1;
    shape.insert(shape.begin() + d, 1);
    strides.insert(strides.begin() + d, stride);
    return reshape_view(*this, shape, strides, "unsqueeze");
}

Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
    if (dim() == 0) return reshape({1});
    start_dim = normalize_dim(start_dim, dim(), "flatten");
    end_dim = normalize_dim(end_dim, dim(), "flatten");
    Shape shape(this->shape().begin(), this->shape().begin() + start_dim);
    int64_t n = 1;
    for (int64_t i = start_dim; i <= end_dim; ++i) n *= this->shape()[i];
    shape.push_back(n);
    shape.insert(shape.end(), this->shape().begin() + end_dim + 1, this->shape().end());
    return reshape(shape);
}

Tensor Tensor::contiguous() const { return is_contiguous() ? *this : clone(); }

Tensor Tensor::clone() const {
    OpTimer timer("clone");
    check_defined(*this, "clone", "self");
    Tensor out = empty(shape(), dtype(), device());
    MOD_KERNEL(out, copy_into)(*this, out);
    record("clone", out, {*this}, [](const Tensor& g, const Node&) -> TensorList { return {g}; });
    return out;
}

Tensor Tensor::to(DType dtype) const {
    if (dtype == this->dtype()) return *this;
    OpTimer timer("to(dtype)");
    Tensor out = empty(shape(), dtype, device());
    MOD_KERNEL(out, copy_into)(*this, out);
    if (is_floating(dtype) && is_floating(this->dtype())) {
        const DType from = this->dtype();
        record("to", out, {*this}, [from](const Tensor& g, const Node&) -> TensorList { return {g.to(from)}; });
    }
    return out;
}

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
    OpTimer timer("cat");
    MOD_CHECK(!tensors.empty(), ValueError, "cat", "at least one tensor expected");
    const Tensor& first = tensors[0];
    dim = normalize_dim(dim, first.dim(), "cat");
    Shape shape = first.shape();
    shape[dim] = 0;
    for (const Tensor& t : tensors) {
        check_defined(t, "cat", "tensors");
        check_same_device(t, first, "cat");
        MOD_CHECK(t.dtype() == first.dtype(), DTypeError, "cat", "one dtype expected, got ", dtype_name(first.dtype()),
                  " and ", dtype_name(t.dtype()));
        bool same = t.dim() == first.dim();
        for (int64_t i = 0; same && i < t.dim(); ++i) same = i == dim || t.shape()[i] == first.shape()[i];
        MOD_CHECK(same, ShapeError, "cat", "shapes equal except in dim ", dim, " expected, got ",
                  shape_str(first.shape()), " and ", shape_str(t.shape()));
        shape[dim] += t.shape()[dim];
    }
    Tensor out = Tensor::empty(shape, first.dtype(), first.device());
    std::vector<int64_t> sizes;
    int64_t at = 0;
    for (const Tensor& t : tensors) {
        MOD_KERNEL(out, copy_into)(t, out.narrow(dim, at, t.shape()[dim]));
        at += t.shape()[dim];
        sizes.push_back(t.shape()[dim]);
    }
    // d input_i = the slice of the output gradient that input i filled.
    record("cat", out, tensors, [sizes, dim](const Tensor& g, const Node& node) -> TensorList {
        TensorList grads(sizes.size());
        int64_t start = 0;
        for (size_t i = 0; i < sizes.size(); ++i) {
            if (node.needs_input_grad(i)) grads[i] = g.narrow(dim, start, sizes[i]);
            start += sizes[i];
        }
        return grads;
    });
    return out;
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
    MOD_CHECK(!tensors.empty(), ValueError, "stack", "at least one tensor expected");
    dim = normalize_dim(dim, tensors[0].dim() + 1, "stack");
    std::vector<Tensor> parts;
    for (const Tensor& t : tensors) {
        MOD_CHECK(t.shape() == tensors[0].shape(), ShapeError, "stack", "equal shapes expected, got ",
                  shape_str(tensors[0].shape()), " and ", shape_str(t.shape()));
        parts.push_back(t.unsqueeze(dim));
    }
    return cat(parts, dim);
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
    dim = normalize_dim(dim, x.dim(), "split");
    int64_t total = 0;
    for (int64_t s : sizes) total += s;
    MOD_CHECK(total == x.shape()[dim], ShapeError, "split", "sizes summing to ", x.shape()[dim], " (dim ", dim,
              " of ", shape_str(x.shape()), ") expected, got ", shape_str(sizes));
    std::vector<Tensor> out;
    int64_t start = 0;
    for (int64_t s : sizes) {
        out.push_back(x.narrow(dim, start, s));
        start += s;
    }
    return out;
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim) {
    MOD_CHECK(chunks > 0, ValueError, "chunk", "a positive number of chunks expected, got ", chunks);
    dim = normalize_dim(dim, x.dim(), "chunk");
    const int64_t n = x.shape()[dim], step = (n + chunks - 1) / chunks;
    std::vector<int64_t> sizes;
    for (int64_t start = 0; start < n; start += step) sizes.push_back(std::min(step, n - start));
    return split(x, sizes, dim);
}

}  // namespace mod
