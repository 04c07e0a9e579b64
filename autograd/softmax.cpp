// softmax / log_softmax: the dim is moved last (a view, then one contiguous copy when it
// was not last), the row kernel runs, and the result is moved back.
#include "core/softmax.h"

#include "autograd/node.h"
#include "core/cpu/softmax.h"
#include "core/dispatch.h"
#include "core/profile.h"
#include "cuda/softmax.h"

namespace mod {

namespace {

Tensor softmax_op(const Tensor& x, int64_t dim, bool log, const char* op) {
    OpTimer timer(op);
    check_defined(x, op, "x");
    dim = normalize_dim(dim, std::max<int64_t>(x.dim(), 1), op);
    if (x.dim() == 0) return softmax_op(x.reshape({1}), 0, log, op).reshape({});
    Tensor rows = x.transpose(dim, -1).contiguous();
    Tensor y = log ? MOD_KERNEL(x, log_softmax_forward)(rows) : MOD_KERNEL(x, softmax_forward)(rows);
    SavedTensor saved_y(y);
    record(op, y, {rows}, [=](const Tensor& g, const Node&) -> TensorList {
        Tensor yy = saved_y.get(op), gg = g.contiguous();
        return {log ? MOD_KERNEL(yy, log_softmax_backward)(yy, gg) : MOD_KERNEL(yy, softmax_backward)(yy, gg)};
    });
    return y.transpose(dim, -1);
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_op(x, dim, false, "softmax"); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_op(x, dim, true, "log_softmax"); }

}  // namespace mod
