#include "nn/conv.h"

#include "core/conv.h"

namespace mod::nn {

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride_, bool has_bias,
               Generator& gen, double init_std)
    : stride(stride_) {
    Tensor w = Tensor::empty({out_channels, in_channels, kernel, kernel});
    normal_(w, 0.0, init_std, gen);
    weight = register_parameter("weight", w);
    if (has_bias) bias = register_parameter("bias", Tensor::zeros({out_channels}));
}

Tensor Conv2d::forward(const Tensor& x) const { return conv2d(x, weight, bias, stride, 0); }

}  // namespace mod::nn
