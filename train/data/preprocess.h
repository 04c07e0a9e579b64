// Image preprocessing (METHOD.md §1): pad to square with the mean colour (image centred), resize
// to the model's size, scale to [0, 1], normalise per channel. Output is CHW float, 3 x S x S.
#pragma once

#include "data/image.h"

#include <array>

namespace mod::data {

struct PreprocessConfig {
    int size = 64;  // S
    std::array<float, 3> mean = {0.48145466f, 0.4578275f, 0.40821073f};  // CLIP
    std::array<float, 3> std = {0.26862954f, 0.26130258f, 0.27577711f};
};

// LLaVA's expand2square: the fill is the config mean as bytes, int(m * 255) as the public code
// computes it, so padding normalises to about zero.
ImageRgb pad_to_square(const ImageRgb& image, const std::array<uint8_t, 3>& fill);

// Separable bicubic resampling (a = -0.5) with the kernel widened when shrinking (antialiasing), as
// PIL's Image.resize(BICUBIC) used by CLIP's processor; rounds to bytes after each pass as PIL does.
ImageRgb resize_bicubic(const ImageRgb& image, int width, int height);

// pad -> resize -> normalise into out[3 * S * S] (CHW). Throws ImageError on an empty image.
void preprocess_image(const ImageRgb& image, const PreprocessConfig& config, float* out);

}  // namespace mod::data
