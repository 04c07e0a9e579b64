// Tensor: a strided view (shape, strides, offset, dtype) of a shared refcounted Storage,
// plus the autograd fields (requires_grad, grad, grad_fn).
//
// A Tensor is a cheap handle (one shared_ptr): copying it aliases the same data, like
// torch.Tensor. Views (reshape, permute, narrow, expand, ...) share storage and never copy.
// Ops are free functions in core/<family>.h; the methods here are metadata, views,
// conversions and autograd entry points.
#pragma once

#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/dtype.h"
#include "core/shape.h"
#include "core/storage.h"

namespace mod {

class Node;
struct TensorImpl;

class Tensor {
public:
    Tensor() = default;  // undefined: defined() is false
    explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

    // --- factories ---
    static Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
    static Tensor zeros(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
    static Tensor ones(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
    static Tensor full(const Shape& shape, double value, DType dtype = DType::F32, Device device = Device::cpu());
    static Tensor scalar(double value, DType dtype = DType::F32);
    // 0, 1, ..., n-1
    static Tensor arange(int64_t n, DType dtype = DType::I64);
    // Copies `values` (row-major) into a new CPU tensor of `shape`; sizes must agree.
    template <typename T>
    static Tensor from_vector(const std::vector<T>& values, const Shape& shape);

    // --- metadata ---
    bool defined() const { return impl_ != nullptr; }
    const Shape& shape() const;
    const Strides& strides() const;
    int64_t offset() const;
    int64_t dim() const { return static_cast<int64_t>(shape().size()); }
    int64_t size(int64_t d) const;
    int64_t numel() const { return shape_numel(shape()); }
    DType dtype() const;
    Device device() const;
    bool is_contiguous() const;
    const std::shared_ptr<Storage>& storage() const;
    // Pointer to the first element; T must match dtype (checked).
    template <typename T>
    T* data() const;
    void* raw_data() const;

    // --- views (no copy; differentiable) ---
    Tensor reshape(const Shape& shape) const;  // a view when strides allow, else a copy
    Tensor view(const Shape& shape) const;     // a view or a ShapeError
    Tensor permute(const std::vector<int64_t>& dims) const;
    Tensor transpose(int64_t d0, int64_t d1) const;
    Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
    Tensor select(int64_t dim, int64_t index) const;  // narrow + squeeze
    Tensor expand(const Shape& shape) const;           // broadcast, stride 0 on new dims
    Tensor squeeze(int64_t dim) const;
    Tensor unsqueeze(int64_t dim) const;
    Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
    Tensor contiguous() const;  // self when already contiguous

    // --- conversion and copies ---
    Tensor to(DType dtype) const;    // self when already dtype; differentiable for float dtypes
    Tensor to(Device device) const;  // self when already there
    Tensor clone() const;            // contiguous copy; differentiable
    double item() const;             // the value of a one-element tensor
    template <typename T>
    std::vector<T> to_vector() const;  // all elements in row-major order, converted to T
    std::string str() const;           // readable printing, summarised when large

    // --- in-place writes (not recorded by autograd; they bump the version counter) ---
    Tensor& fill_(double value);
    Tensor& zero_() { return fill_(0.0); }
    Tensor& copy_(const Tensor& src);  // src broadcasts to this shape; dtype converts
    // Makes every handle of this tensor see src's data, shape and dtype (src is not copied):
    // how a module converts its parameters to another dtype or device in place.
    void set_data(const Tensor& src) const;

    // --- autograd ---
    bool requires_grad() const;
    Tensor& requires_grad_(bool on = true);  // leaves only; float dtypes only
    bool is_leaf() const;
    Tensor grad() const;  // undefined until a backward reaches this leaf
    void set_grad(const Tensor& grad) const;
    void zero_grad() const;  // drops .grad
    const std::shared_ptr<Node>& grad_fn() const;
    Tensor detach() const;  // same data, no history
    // Backpropagates from this tensor: a scalar, or any shape with an explicit gradient.
    void backward(const Tensor& grad = Tensor(), bool retain_graph = false) const;
    uint64_t version() const { return storage()->version(); }

    TensorImpl* impl() const { return impl_.get(); }
    const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

private:
    std::shared_ptr<TensorImpl> impl_;
};

struct AutogradMeta {
    bool requires_grad = false;
    Tensor grad;
    std::shared_ptr<Node> grad_fn;
    std::weak_ptr<Node> grad_accumulator;  // weak: the accumulator holds the leaf, not the reverse
};

struct TensorImpl {
    std::shared_ptr<Storage> storage;
    Shape shape;
    Strides strides;
    int64_t offset = 0;  // in elements
    DType dtype = DType::F32;
    AutogradMeta autograd;
};

// A new handle on the same data with other shape/strides/offset and no autograd history.
Tensor make_view(const Tensor& base, Shape shape, Strides strides, int64_t offset);

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// Throws ValueError naming op when t is undefined.
void check_defined(const Tensor& t, const char* op, const char* name);

template <typename T>
T* Tensor::data() const {
    MOD_CHECK(dtype() == dtype_of<T>::value, DTypeError, "data", dtype_name(dtype_of<T>::value),
              " pointer requested from a ", dtype_name(dtype()), " tensor");
    return static_cast<T*>(raw_data());
}

template <typename T>
Tensor Tensor::from_vector(const std::vector<T>& values, const Shape& shape) {
    MOD_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), ShapeError, "from_vector",
              shape_numel(shape), " values for shape ", shape_str(shape), " expected, got ", values.size());
    Tensor t = empty(shape, dtype_of<T>::value);
    std::copy(values.begin(), values.end(), t.data<T>());
    return t;
}

}  // namespace mod

namespace mod {
// The checks every float kernel starts with: t is defined and float32 or float64 (the compute
// dtypes; bfloat16 is storage, and on CUDA an input of the products and of attention). name says
// which argument in the message.
void check_float(const Tensor& t, const char* op, const char* name);
// Throws DeviceError naming op when a and b are on different devices.
void check_same_device(const Tensor& a, const Tensor& b, const char* op);
}  // namespace mod
