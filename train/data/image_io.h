// Image files: PNG writing (deterministic bytes: libpng's simplified API writes no timestamp and
// uses zlib's default level), and PNG/JPEG decoding to RGB8 (libpng, libjpeg).
// Errors are ImageError with "[where] path: reason".
#pragma once

#include "data/image.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mod::data {

void write_png(const std::string& path, const ImageRgb& image);

// Encodes to PNG in memory (what write_png writes).
std::vector<uint8_t> encode_png(const ImageRgb& image);

// Reads and decodes a PNG or JPEG file (told apart by their signatures, not the file name).
ImageRgb read_image(const std::string& path);

// Decodes PNG or JPEG bytes; `name` only labels errors.
ImageRgb decode_image(const std::vector<uint8_t>& bytes, const std::string& name);

}  // namespace mod::data
