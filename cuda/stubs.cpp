// The CUDA entry points of a build without CUDA. No CUDA tensor can exist in such a build
// (allocating one throws here), so the kernels below are never reached through a tensor;
// each still throws a clear DeviceError, so that a program asking for device=cuda fails
// with one line instead of a link error or a crash.
#include "core/error.h"
#include "cuda/attention.h"
#include "cuda/conv.h"
#include "cuda/copy.h"
#include "cuda/elementwise.h"
#include "cuda/index.h"
#include "cuda/loss.h"
#include "cuda/matmul.h"
#include "cuda/memory.h"
#include "cuda/norm.h"
#include "cuda/optim.h"
#include "cuda/reduce.h"
#include "cuda/softmax.h"

namespace mod::cuda {

namespace {
[[noreturn]] void no_cuda(const char* op) {
    throw DeviceError(detail::format_error(op, "built without CUDA: reconfigure with -DMOD_CUDA=ON on a machine with the CUDA toolkit"));
}
}  // namespace

bool is_available() { return false; }
int device_count() { return 0; }
void* device_malloc(size_t, int) { no_cuda("cuda_malloc"); }
void device_free(void*, size_t, int) noexcept {}
MemoryStats memory_stats(int) { return {}; }
void reset_peak_memory(int) {}
void empty_cache() {}
void copy_host_to_device(void*, const void*, size_t, int) { no_cuda("to(cuda)"); }
void copy_device_to_host(void*, const void*, size_t, int) { no_cuda("to(cpu)"); }
void copy_device_to_device(void*, const void*, size_t, int) { no_cuda("copy(cuda)"); }
void synchronize(int) { no_cuda("synchronize"); }

void copy_into(const Tensor&, const Tensor&) { no_cuda("copy"); }
void fill(const Tensor&, double) { no_cuda("fill"); }

Tensor binary(BinaryOp, const Tensor&, const Tensor&) { no_cuda("binary"); }
Tensor compare(CompareOp, const Tensor&, const Tensor&) { no_cuda("compare"); }
Tensor unary(UnaryOp, const Tensor&, UnaryArgs) { no_cuda("unary"); }
Tensor unary_backward(UnaryOp, const Tensor&, const Tensor&, const Tensor&, UnaryArgs) { no_cuda("unary"); }
Tensor where(const Tensor&, const Tensor&, const Tensor&) { no_cuda("where"); }
Tensor swiglu(const Tensor&, const Tensor&) { no_cuda("swiglu"); }
std::pair<Tensor, Tensor> swiglu_backward(const Tensor&, const Tensor&, const Tensor&) { no_cuda("swiglu"); }

Tensor row_sum(const Tensor&) { no_cuda("sum"); }
std::pair<Tensor, Tensor> row_max(const Tensor&) { no_cuda("max"); }
Tensor row_logsumexp(const Tensor&) { no_cuda("logsumexp"); }

Tensor softmax_forward(const Tensor&) { no_cuda("softmax"); }
Tensor softmax_backward(const Tensor&, const Tensor&) { no_cuda("softmax"); }
Tensor log_softmax_forward(const Tensor&) { no_cuda("log_softmax"); }
Tensor log_softmax_backward(const Tensor&, const Tensor&) { no_cuda("log_softmax"); }

NormOutput layer_norm_forward(const Tensor&, const Tensor&, const Tensor&, double) { no_cuda("layer_norm"); }
NormGrads layer_norm_backward(const Tensor&, const Tensor&, const Tensor&, bool, const Tensor&, const Tensor&) {
    no_cuda("layer_norm");
}
NormOutput rms_norm_forward(const Tensor&, const Tensor&, double) { no_cuda("rms_norm"); }
NormGrads rms_norm_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&) { no_cuda("rms_norm"); }

Tensor index_select(const Tensor&, const Tensor&) { no_cuda("index_select"); }
void index_add(const Tensor&, const Tensor&, const Tensor&) { no_cuda("index_add"); }
Tensor gather(const Tensor&, const Tensor&) { no_cuda("gather"); }
void scatter_add(const Tensor&, const Tensor&, const Tensor&) { no_cuda("scatter_add"); }
std::pair<Tensor, Tensor> topk_rows(const Tensor&, int64_t, bool) { no_cuda("topk"); }

CrossEntropyForward cross_entropy_forward(const Tensor&, const Tensor&, int64_t, double) { no_cuda("cross_entropy"); }
Tensor cross_entropy_backward(const Tensor&, const Tensor&, const Tensor&, int64_t, double, double) {
    no_cuda("cross_entropy");
}
SoftCrossEntropyForward soft_cross_entropy_forward(const Tensor&, const Tensor&, double) {
    no_cuda("soft_cross_entropy");
}
std::pair<Tensor, Tensor> soft_cross_entropy_backward(const Tensor&, const Tensor&, const SoftCrossEntropyForward&,
                                                      double, double, bool, bool) {
    no_cuda("soft_cross_entropy");
}

Tensor rope(const Tensor&, const Tensor&, double, double) { no_cuda("rope"); }
AttentionForward attention_forward(const Tensor&, const Tensor&, const Tensor&, bool, double) { no_cuda("attention"); }
AttentionGrads attention_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                                  const Tensor&, bool, double) {
    no_cuda("attention");
}

Tensor matmul(const Tensor&, const Tensor&) { no_cuda("matmul"); }
Tensor matmul_float_out(const Tensor&, const Tensor&) { no_cuda("matmul_bf16"); }
Tensor grouped_matmul(const Tensor&, const std::vector<Tensor>&, const std::vector<int64_t>&) {
    no_cuda("grouped_matmul");
}
std::vector<Tensor> grouped_matmul_weight_grads(const Tensor&, const Tensor&, const std::vector<int64_t>&) {
    no_cuda("grouped_matmul");
}
void set_allow_tf32(bool) {}
bool allow_tf32() { return false; }

Tensor conv2d_forward(const Tensor&, const Tensor&, const Tensor&, const ConvGeometry&) { no_cuda("conv2d"); }
ConvGrads conv2d_backward(const Tensor&, const Tensor&, const Tensor&, bool, const ConvGeometry&, bool) {
    no_cuda("conv2d");
}

void adamw_update(const Tensor&, const Tensor&, const Tensor&, const Tensor&, double, double, double, double, double,
                  double) {
    no_cuda("AdamW.step");
}
void sgd_update(const Tensor&, const Tensor&, const Tensor&, double, double, bool, double) { no_cuda("SGD.step"); }
double sum_of_squares(const Tensor&) { no_cuda("clip_grad_norm"); }
void scale_(const Tensor&, double) { no_cuda("clip_grad_norm"); }

}  // namespace mod::cuda
