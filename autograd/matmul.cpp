// matmul: C = A B. Backward: dA = dC B^T, dB = A^T dC, each summed over the batch dims
// its operand was broadcast along. The transposes are views: no copies.
#include "core/matmul.h"

#include "autograd/node.h"
#include "core/cpu/matmul.h"
#include "core/reduce.h"
#include "core/dispatch.h"
#include "cuda/matmul.h"

namespace mod {

Tensor matmul(const Tensor& a, const Tensor& b) {
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
    record("matmul", out, {a, b}, [=](const Tensor& g, const Node& node) -> TensorList {
        TensorList grads(2);
        if (node.needs_input_grad(0)) grads[0] = sum_to(matmul(g, saved_b.get("matmul").transpose(-1, -2)), sa);
        if (node.needs_input_grad(1)) {
            Tensor at = saved_a.get("matmul");
            if (at.dim() > 2 && sb.size() == 2) {
                // Shared 2-D B: dB = sum over the batch of A_i^T dC_i = (all rows of A)^T (all rows of dC).
                grads[1] = matmul(at.reshape({-1, at.size(-1)}).transpose(0, 1), g.reshape({-1, g.size(-1)}));
            } else {
                grads[1] = sum_to(matmul(at.transpose(-1, -2), g), sb);
            }
        }
        return grads;
    });
    return out;
}

}  // namespace mod
