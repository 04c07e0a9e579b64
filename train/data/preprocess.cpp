// Padding, PIL-style bicubic resize, and normalisation.
#include "data/preprocess.h"

#include "data/errors.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace mod::data {

namespace {

double cubic(double x) {
    constexpr double a = -0.5;
    x = std::fabs(x);
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
    if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
    return 0.0;
}

// For each output index: the first input index and the normalised weights (PIL's precompute_coeffs).
struct Coeffs {
    std::vector<int> first;
    std::vector<std::vector<double>> weights;
};

Coeffs make_coeffs(int in_size, int out_size) {
    const double scale = static_cast<double>(in_size) / out_size;
    const double filter_scale = std::max(scale, 1.0);
    const double support = 2.0 * filter_scale;
    Coeffs c;
    for (int i = 0; i < out_size; ++i) {
        const double centre = (i + 0.5) * scale;
        const int lo = std::max(0, static_cast<int>(centre - support + 0.5));
        const int hi = std::min(in_size, static_cast<int>(centre + support + 0.5));
        std::vector<double> w;
        double total = 0.0;
        for (int x = lo; x < hi; ++x) {
            const double v = cubic((x - centre + 0.5) / filter_scale);
            w.push_back(v);
            total += v;
        }
        for (double& v : w) v = total != 0.0 ? v / total : 0.0;
        c.first.push_back(lo);
        c.weights.push_back(std::move(w));
    }
    return c;
}

uint8_t to_byte(double v) { return static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L)); }

}  // namespace

ImageRgb pad_to_square(const ImageRgb& image, const std::array<uint8_t, 3>& fill) {
    if (image.width == image.height) return image;
    const int side = std::max(image.width, image.height);
    ImageRgb out(side, side);
    for (int y = 0; y < side; ++y) {
        for (int x = 0; x < side; ++x) std::copy(fill.begin(), fill.end(), out.at(x, y));
    }
    const int ox = (side - image.width) / 2, oy = (side - image.height) / 2;
    for (int y = 0; y < image.height; ++y) {
        std::copy(image.at(0, y), image.at(0, y) + image.width * 3, out.at(ox, oy + y));
    }
    return out;
}

ImageRgb resize_bicubic(const ImageRgb& image, int width, int height) {
    if (image.width == width && image.height == height) return image;
    const Coeffs cx = make_coeffs(image.width, width), cy = make_coeffs(image.height, height);
    ImageRgb mid(width, image.height);  // horizontal pass first, as PIL does
    for (int y = 0; y < image.height; ++y) {
        for (int x = 0; x < width; ++x) {
            for (int c = 0; c < 3; ++c) {
                double v = 0.0;
                for (size_t k = 0; k < cx.weights[x].size(); ++k) v += cx.weights[x][k] * image.at(cx.first[x] + static_cast<int>(k), y)[c];
                mid.at(x, y)[c] = to_byte(v);
            }
        }
    }
    ImageRgb out(width, height);
    for (int y = 0; y < height; ++y) {
        for (int x = 0; x < width; ++x) {
            for (int c = 0; c < 3; ++c) {
                double v = 0.0;
                for (size_t k = 0; k < cy.weights[y].size(); ++k) v += cy.weights[y][k] * mid.at(x, cy.first[y] + static_cast<int>(k))[c];
                out.at(x, y)[c] = to_byte(v);
            }
        }
    }
    return out;
}

void preprocess_image(const ImageRgb& image, const PreprocessConfig& config, float* out) {
    if (image.width <= 0 || image.height <= 0) throw ImageError("[preprocess_image] empty image");
    std::array<uint8_t, 3> fill{};
    for (int c = 0; c < 3; ++c) fill[c] = static_cast<uint8_t>(std::clamp(static_cast<int>(config.mean[c] * 255.0f), 0, 255));
    const ImageRgb square = resize_bicubic(pad_to_square(image, fill), config.size, config.size);
    const size_t plane = static_cast<size_t>(config.size) * config.size;
    for (int y = 0; y < config.size; ++y) {
        for (int x = 0; x < config.size; ++x) {
            const uint8_t* p = square.at(x, y);
            for (int c = 0; c < 3; ++c) {
                out[c * plane + static_cast<size_t>(y) * config.size + x] = (p[c] / 255.0f - config.mean[c]) / config.std[c];
            }
        }
    }
}

}  // namespace mod::data
