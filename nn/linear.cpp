#include "nn/linear.h"

#include "core/elementwise.h"
#include "core/index.h"
#include "core/matmul.h"

namespace mod::nn {

Linear::Linear(int64_t in_features, int64_t out_features, bool has_bias, Generator& gen, double init_std) {
    Tensor w = Tensor::empty({out_features, in_features});
    normal_(w, 0.0, init_std, gen);
    weight = register_parameter("weight", w);
    if (has_bias) bias = register_parameter("bias", Tensor::zeros({out_features}));
}

Tensor Linear::forward(const Tensor& x) const {
    MOD_CHECK(x.dim() >= 1 && x.size(-1) == weight.size(1), ShapeError, "linear", "input (..., ", weight.size(1),
              ") expected, got ", shape_str(x.shape()));
    Tensor y = matmul_in(x.dim() == 1 ? x.unsqueeze(0) : x, weight.transpose(0, 1), compute_dtype());  // W^T: a view
    if (x.dim() == 1) y = y.squeeze(0);
    return bias.defined() ? y + bias : y;
}

Tensor matmul_in(const Tensor& x, const Tensor& w, DType compute) {
    if (compute != DType::BF16 || x.dtype() == DType::BF16) return matmul(x, w);
    if (x.device().is_cuda() && x.dtype() == DType::F32 && w.dtype() == DType::F32) return matmul_bf16(x, w);
    return matmul(x.to(DType::BF16), w.to(DType::BF16)).to(x.dtype());
}

Tensor grouped_matmul_in(const Tensor& x, const std::vector<Tensor>& w, const std::vector<int64_t>& sizes,
                         DType compute) {
    if (compute != DType::BF16 || x.dtype() == DType::BF16) return grouped_matmul(x, w, sizes);
    std::vector<Tensor> wb;
    for (const Tensor& t : w) wb.push_back(t.to(DType::BF16));
    return grouped_matmul(x.to(DType::BF16), wb, sizes).to(x.dtype());
}

Embedding::Embedding(int64_t num, int64_t dim, Generator& gen, double init_std) {
    Tensor w = Tensor::empty({num, dim});
    normal_(w, 0.0, init_std, gen);
    weight = register_parameter("weight", w);
}

Tensor Embedding::forward(const Tensor& ids) const { return embedding(weight, ids); }

}  // namespace mod::nn
