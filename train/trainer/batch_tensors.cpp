#include "trainer/batch_tensors.h"

#include "data/sequence.h"

namespace mod::train {

ModelInputs to_model_inputs(const data::Batch& b, Device device) {
    ModelInputs in;
    in.input_ids = Tensor::from_vector<int64_t>(b.ids, {b.B, b.T}).to(device);
    in.labels = Tensor::from_vector<int64_t>(b.labels, {b.B, b.T}).to(device);
    for (int64_t len : b.lengths) in.tokens += len;
    std::vector<float> pixels;
    int64_t images = 0;
    const size_t per_image = static_cast<size_t>(3 * b.S * b.S);
    // One image per block, in row order: the model fills the blocks with them in order.
    for (int64_t r = 0; r < b.B; ++r) {
        for (int64_t k = 0; k < b.image_blocks[r]; ++k) {
            pixels.insert(pixels.end(), b.pixels.begin() + r * per_image, b.pixels.begin() + (r + 1) * per_image);
            ++images;
        }
    }
    if (images > 0) in.pixels = Tensor::from_vector<float>(pixels, {images, 3, b.S, b.S}).to(device);
    return in;
}

namespace {
LabelPositions positions(const Tensor& labels, int64_t shift) {
    const int64_t B = labels.size(0), T = labels.size(1);
    const std::vector<int64_t> l = labels.to_vector<int64_t>();
    std::vector<int64_t> rows, targets, sample;
    for (int64_t b = 0; b < B; ++b)
        for (int64_t t = 0; t + shift < T; ++t) {
            const int64_t label = l[b * T + t + shift];
            if (label == data::kIgnore) continue;
            rows.push_back(b * T + t);
            targets.push_back(label);
            sample.push_back(b);
        }
    const int64_t n = static_cast<int64_t>(rows.size());
    const Device d = labels.device();
    return {Tensor::from_vector<int64_t>(rows, {n}).to(d), Tensor::from_vector<int64_t>(targets, {n}).to(d),
            Tensor::from_vector<int64_t>(sample, {n}).to(d), n};
}
}  // namespace

LabelPositions shifted_positions(const Tensor& labels) { return positions(labels, 1); }
LabelPositions unshifted_positions(const Tensor& labels) { return positions(labels, 0); }

}  // namespace mod::train
