// Tensor factories, metadata, conversions and in-place writes. Views and the autograd
// entry points live in autograd/view.cpp and autograd/engine.cpp.
#include "core/tensor.h"

#include <algorithm>

#include "core/cpu/copy.h"
#include "core/dispatch.h"
#include "core/profile.h"
#include "cuda/copy.h"
#include "cuda/memory.h"

namespace mod {

namespace {
std::shared_ptr<TensorImpl> new_impl(const Shape& shape, DType dtype, Device device) {
    for (int64_t s : shape) MOD_CHECK(s >= 0, ValueError, "empty", "non-negative sizes expected, got ", shape_str(shape));
    auto impl = std::make_shared<TensorImpl>();
    impl->storage = std::make_shared<Storage>(static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype), device);
    impl->shape = shape;
    impl->strides = contiguous_strides(shape);
    impl->dtype = dtype;
    return impl;
}
}  // namespace

void check_defined(const Tensor& t, const char* op, const char* name) {
    MOD_CHECK(t.defined(), ValueError, op, "a defined tensor expected for ", name);
}

void check_float(const Tensor& t, const char* op, const char* name) {
    check_defined(t, op, name);
    MOD_CHECK(t.dtype() == DType::F32 || t.dtype() == DType::F64, DTypeError, op, "float32 or float64 ", name,
              " expected, got ", dtype_name(t.dtype()));
}

void check_same_device(const Tensor& a, const Tensor& b, const char* op) {
    MOD_CHECK(a.device() == b.device(), DeviceError, op, "tensors on one device expected, got ", a.device().str(),
              " and ", b.device().str());
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) { return Tensor(new_impl(shape, dtype, device)); }

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) { return full(shape, 0.0, dtype, device); }

Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1.0, dtype, device); }

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
    Tensor t = empty(shape, dtype, device);
    MOD_KERNEL(t, fill)(t, value);
    return t;
}

Tensor Tensor::scalar(double value, DType dtype) { return full({}, value, dtype); }

Tensor Tensor::arange(int64_t n, DType dtype) {
    Tensor t = empty({n}, DType::I64);
    int64_t* p = t.data<int64_t>();
    for (int64_t i = 0; i < n; ++i) p[i] = i;
    return t.to(dtype);
}

const Shape& Tensor::shape() const {
    check_defined(*this, "shape", "self");
    return impl_->shape;
}
const Strides& Tensor::strides() const { return impl_->strides; }
int64_t Tensor::offset() const { return impl_->offset; }
DType Tensor::dtype() const {
    check_defined(*this, "dtype", "self");
    return impl_->dtype;
}
Device Tensor::device() const {
    check_defined(*this, "device", "self");
    return impl_->storage->device();
}
const std::shared_ptr<Storage>& Tensor::storage() const { return impl_->storage; }
void* Tensor::raw_data() const {
    return static_cast<char*>(impl_->storage->data()) + impl_->offset * static_cast<int64_t>(dtype_size(impl_->dtype));
}

int64_t Tensor::size(int64_t d) const { return shape()[normalize_dim(d, dim(), "size")]; }

bool Tensor::is_contiguous() const {
    int64_t expected = 1;
    for (int64_t i = dim() - 1; i >= 0; --i) {
        if (impl_->shape[i] != 1 && impl_->strides[i] != expected) return false;
        expected *= impl_->shape[i];
    }
    return true;
}

Tensor Tensor::to(Device device) const {
    if (device == this->device()) return *this;
    Tensor src = contiguous();
    Tensor out = empty(shape(), dtype(), device);
    const size_t nbytes = static_cast<size_t>(numel()) * dtype_size(dtype());
    if (nbytes == 0) return out;
    if (src.device().is_cpu()) {
        cuda::copy_host_to_device(out.raw_data(), src.raw_data(), nbytes, device.index);
    } else if (device.is_cpu()) {
        cuda::copy_device_to_host(out.raw_data(), src.raw_data(), nbytes, src.device().index);
    } else {
        // Between two GPUs: stage through the host, which always works without peer access.
        return src.to(Device::cpu()).to(device);
    }
    return out;
}

double Tensor::item() const {
    MOD_CHECK(numel() == 1, ShapeError, "item", "a one-element tensor expected, got shape ", shape_str(shape()));
    return to_vector<double>()[0];
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
    Tensor host = to(Device::cpu());
    Tensor dense = empty(shape(), dtype_of<T>::value);
    cpu::copy_into(host, dense);
    const T* p = dense.data<T>();
    return std::vector<T>(p, p + numel());
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int32_t> Tensor::to_vector<int32_t>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;
template std::vector<bool> Tensor::to_vector<bool>() const;

Tensor& Tensor::fill_(double value) {
    check_defined(*this, "fill_", "self");
    MOD_KERNEL(*this, fill)(*this, value);
    storage()->bump_version();
    return *this;
}

Tensor& Tensor::copy_(const Tensor& src) {
    OpTimer timer("copy_");
    check_defined(src, "copy_", "src");
    // src broadcasts to this shape (one-directional: this shape never grows).
    MOD_CHECK(src.dim() <= dim(), ShapeError, "copy_", "src broadcastable to ", shape_str(shape()), " expected, got ",
              shape_str(src.shape()));
    for (int64_t i = 0; i < src.dim(); ++i) {
        int64_t s = src.shape()[i], d = shape()[dim() - src.dim() + i];
        MOD_CHECK(s == d || s == 1, ShapeError, "copy_", "src broadcastable to ", shape_str(shape()),
                  " expected, got ", shape_str(src.shape()));
    }
    // A source that overlaps the destination is copied out first, so no element is read after it
    // was written; a source on another device is first brought to this one.
    Tensor from = src.device() != device() ? src.detach().to(device())
                  : src.storage() == storage() ? src.detach().clone()
                                                : src;
    MOD_KERNEL(*this, copy_into)(from, *this);
    storage()->bump_version();
    return *this;
}

void Tensor::set_data(const Tensor& src) const {
    check_defined(src, "set_data", "src");
    impl_->storage = src.storage();
    impl_->shape = src.shape();
    impl_->strides = src.strides();
    impl_->offset = src.offset();
    impl_->dtype = src.dtype();
    impl_->autograd.grad = Tensor();
}

Tensor make_view(const Tensor& base, Shape shape, Strides strides, int64_t offset) {
    auto impl = std::make_shared<TensorImpl>();
    impl->storage = base.storage();
    impl->shape = std::move(shape);
    impl->strides = std::move(strides);
    impl->offset = offset;
    impl->dtype = base.dtype();
    return Tensor(impl);
}

}  // namespace mod
