// matmul: C = A B. Backward: dA = dC B^T, dB = A^T dC, each summed over the batch dims
// its operand was broadcast along. The transposes are views: no copies.
#include "core/matmul.h"

#include "autograd/node.h"
#include "core/cpu/matmul.h"
#include "core/dispatch.h"
#include "core/profile.h"
#include "core/reduce.h"
#include "cuda/matmul.h"

namespace mod {

Tensor matmul(const Tensor& a, const Tensor& b) {
    OpTimer timer("matmul");
    check_defined(a, "matmul", "a");
    check_defined(b, "matmul", "b");
    check_same_device(a, b, "matmul");
    MOD_CHECK(a.dim() >= 2 && b.dim() >= 2, ShapeError, "matmul", "operands with at least 2 dims expected, got ",
              shape_str(a.shape()), " and ", shape_str(b.shape()));
    // bfloat16 products (float32 accumulation) are the GPU's mixed-precision path.
    const bool bf16_ok = a.device().is_cuda() && a.dtype() == DType::BF16;
    MOD_CHECK(a.dtype() == b.dtype() && (a.dtype() == DType::F32 || a.dtype() == DType::F64 || bf16_ok), DTypeError,
              "matmul", "two float32 or two float64 operands (two bfloat16 on CUDA) expected, got ",
              dtype_name(a.dtype()), " and ", dtype_name(b.dtype()));
    MOD_CHECK(a.size(-1) == b.size(-2), ShapeError, "matmul", "a.shape[-1] == b.shape[-2] expected, got ",
              shape_str(a.shape()), " and ", shape_str(b.shape()));
    Tensor out;
    if (b.dim() == 2 && a.dim() > 2) {
        // (..., M, K) @ (K, N): one tall GEMM instead of a batch of short ones.
        Shape out_shape = a.shape();
        out_shape.back() = b.size(1);
        out = MOD_KERNEL(a, matmul)(a.detach().reshape({-1, a.size(-1)}), b).view(out_shape);
    } else {
        broadcast_shapes(Shape(a.shape().begin(), a.shape().end() - 2), Shape(b.shape().begin(), b.shape().end() - 2),
                         "matmul");
        out = MOD_KERNEL(a, matmul)(a, b);
    }
    SavedTensor saved_a(any_requires_grad({b}) ? a : Tensor());
    SavedTensor saved_b(any_requires_grad({a}) ? b : Tensor());
    const Shape sa = a.shape(), sb = b.shape();
    // B a transposed matrix, as Linear's W^T: its gradient is computed in B's layout (below).
    const bool b_transposed = b.dim() == 2 && !b.is_contiguous() && b.transpose(0, 1).is_contiguous();
    record("matmul", out, {a, b}, [=](const Tensor& g, const Node& node) -> TensorList {
        TensorList grads(2);
        if (node.needs_input_grad(0)) grads[0] = sum_to(matmul(g, saved_b.get("matmul").transpose(-1, -2)), sa);
        if (node.needs_input_grad(1)) {
            Tensor at = saved_a.get("matmul");
            if (sb.size() == 2) {
                // 2-D B, shared by any batch of A: dB = sum_i A_i^T dC_i = (all rows of A)^T (all rows of dC).
                const Tensor a2 = at.reshape({-1, at.size(-1)}), g2 = g.reshape({-1, g.size(-1)});
                // For a transposed B the same product runs as (dC^T A)^T: dB comes out laid out
                // like B, so W's gradient arrives contiguous, with no transposing copy.
                grads[1] = b_transposed ? matmul(g2.transpose(0, 1), a2).transpose(0, 1)
                                        : matmul(a2.transpose(0, 1), g2);
            } else {
                grads[1] = sum_to(matmul(at.transpose(-1, -2), g), sb);
            }
        }
        return grads;
    });
    return out;
}

Tensor matmul_bf16(const Tensor& a, const Tensor& b) {
    const char* op = "matmul_bf16";
    OpTimer timer(op);
    check_defined(a, op, "a");
    check_defined(b, op, "b");
    check_same_device(a, b, op);
    MOD_CHECK(a.device().is_cuda(), DeviceError, op, "CUDA operands expected (bfloat16 tensor cores), got ",
              a.device().str());
    MOD_CHECK(a.dtype() == DType::F32 && b.dtype() == DType::F32, DTypeError, op, "float32 operands expected, got ",
              dtype_name(a.dtype()), " and ", dtype_name(b.dtype()));
    MOD_CHECK(a.dim() >= 2 && b.dim() >= 2 && a.size(-1) == b.size(-2), ShapeError, op,
              "a (..., M, K) and b (..., K, N) expected, got ", shape_str(a.shape()), " and ", shape_str(b.shape()));
    broadcast_shapes(Shape(a.shape().begin(), a.shape().end() - 2), Shape(b.shape().begin(), b.shape().end() - 2), op);
    // The rounding belongs to this node: the bfloat16 copies are not recorded, and backward
    // hands float32 gradients straight to a and b.
    const Tensor a16 = a.detach().to(DType::BF16), b16 = b.detach().to(DType::BF16);
    const int64_t K = a.size(-1), N = b.size(-1);
    const bool shared_b = b.dim() == 2 && a.dim() > 2;  // (..., M, K) @ (K, N): one tall product
    Shape out_shape = a.shape();
    out_shape.back() = N;
    Tensor out = shared_b ? cuda::matmul_float_out(a16.reshape({-1, K}), b16).view(out_shape)
                          : cuda::matmul_float_out(a16, b16);
    SavedTensor saved_a(any_requires_grad({b}) ? a16 : Tensor());
    SavedTensor saved_b(any_requires_grad({a}) ? b16 : Tensor());
    const Shape sa = a.shape(), sb = b.shape();
    record(op, out, {a, b}, [=](const Tensor& g, const Node& node) -> TensorList {
        TensorList grads(2);
        const Tensor g16 = g.to(DType::BF16);
        if (node.needs_input_grad(0)) {
            const Tensor bt = saved_b.get(op).transpose(-1, -2);
            grads[0] = shared_b ? cuda::matmul_float_out(g16.reshape({-1, N}), bt).view(sa)
                                : sum_to(cuda::matmul_float_out(g16, bt), sa);
        }
        if (node.needs_input_grad(1)) {
            const Tensor at = saved_a.get(op);
            grads[1] = shared_b ? cuda::matmul_float_out(at.reshape({-1, K}).transpose(0, 1), g16.reshape({-1, N}))
                                : sum_to(cuda::matmul_float_out(at.transpose(-1, -2), g16), sb);
        }
        return grads;
    });
    return out;
}

Tensor grouped_matmul(const Tensor& x, const std::vector<Tensor>& w, const std::vector<int64_t>& sizes) {
    const char* op = "grouped_matmul";
    OpTimer timer(op);
    check_defined(x, op, "x");
    MOD_CHECK(x.dim() == 2, ShapeError, op, "x of shape (M, K) expected, got ", shape_str(x.shape()));
    MOD_CHECK(!w.empty() && w.size() == sizes.size(), ValueError, op, "one size per weight expected, got ", w.size(),
              " weights and ", sizes.size(), " sizes");
    const bool bf16_ok = x.device().is_cuda() && x.dtype() == DType::BF16;
    MOD_CHECK(x.dtype() == DType::F32 || x.dtype() == DType::F64 || bf16_ok, DTypeError, op,
              "a float32 or float64 x (bfloat16 on CUDA) expected, got ", dtype_name(x.dtype()));
    int64_t rows = 0;
    for (size_t g = 0; g < w.size(); ++g) {
        check_defined(w[g], op, "w");
        check_same_device(x, w[g], op);
        MOD_CHECK(w[g].dim() == 2 && w[g].size(0) == x.size(1) && w[g].size(1) == w[0].size(1), ShapeError, op,
                  "weights of shape (", x.size(1), ", ", w[0].size(1), ") expected, got ", shape_str(w[g].shape()),
                  " for group ", g);
        MOD_CHECK(w[g].dtype() == x.dtype(), DTypeError, op, "weights of dtype ", dtype_name(x.dtype()),
                  " expected, got ", dtype_name(w[g].dtype()));
        MOD_CHECK(sizes[g] >= 0, ValueError, op, "group sizes >= 0 expected, got ", sizes[g]);
        rows += sizes[g];
    }
    MOD_CHECK(rows == x.size(0), ShapeError, op, "group sizes summing to the ", x.size(0), " rows of x expected, got ",
              rows);
    Tensor xc = x.contiguous();
    Tensor out = MOD_KERNEL(xc, grouped_matmul)(xc, w, sizes);
    std::vector<Tensor> inputs{xc};
    inputs.insert(inputs.end(), w.begin(), w.end());
    SavedTensor saved_x(xc);
    std::vector<SavedTensor> saved_w(w.begin(), w.end());
    const size_t n_inputs = inputs.size();
    // Transposed weights (experts' W^T views): their gradients are computed in that layout.
    bool w_transposed = true;
    for (const Tensor& wg : w) w_transposed = w_transposed && !wg.is_contiguous() && wg.transpose(0, 1).is_contiguous();
    // dx_g = dy_g w_g^T (the same grouped product with transposed views); dw_g = x_g^T dy_g,
    // or (dy_g^T x_g)^T for transposed weights, so that W_g's gradient arrives contiguous.
    record(op, out, inputs, [=](const Tensor& g, const Node& node) -> TensorList {
        TensorList grads(n_inputs);
        Tensor gc = g.contiguous();
        if (node.needs_input_grad(0)) {
            std::vector<Tensor> wt;
            for (const SavedTensor& s : saved_w) wt.push_back(s.get(op).transpose(0, 1));
            grads[0] = MOD_KERNEL(gc, grouped_matmul)(gc, wt, sizes);
        }
        bool any_w = false;
        for (size_t i = 1; i < n_inputs; ++i) any_w = any_w || node.needs_input_grad(i);
        if (any_w) {
            const Tensor xs = saved_x.get(op);
            std::vector<Tensor> dw = w_transposed ? MOD_KERNEL(gc, grouped_matmul_weight_grads)(gc, xs, sizes)
                                                  : MOD_KERNEL(gc, grouped_matmul_weight_grads)(xs, gc, sizes);
            for (size_t i = 0; i < dw.size(); ++i)
                if (node.needs_input_grad(i + 1)) grads[i + 1] = w_transposed ? dw[i].transpose(0, 1) : dw[i];
        }
        return grads;
    });
    return out;
}

}  // namespace mod
