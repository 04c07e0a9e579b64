// An 8-bit RGB image in memory: H x W x 3, row-major, interleaved (HWC), as decoders produce it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace mod::data {

struct ImageRgb {
    int width = 0;
    int height = 0;
    std::vector<uint8_t> pixels;  // height * width * 3

    ImageRgb() = default;
    ImageRgb(int w, int h) : width(w), height(h), pixels(static_cast<size_t>(w) * h * 3, 0) {}
    uint8_t* at(int x, int y) { return &pixels[(static_cast<size_t>(y) * width + x) * 3]; }
    const uint8_t* at(int x, int y) const { return &pixels[(static_cast<size_t>(y) * width + x) * 3]; }
};

}  // namespace mod::data
