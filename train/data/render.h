// Renders a Scene to an RGB image. Integer arithmetic only (4x4 supersampled coverage, integer
// polygon tests, a fixed star table): floating-point sin/cos differ between libm versions, and the
// images must be byte-identical on every machine.
#pragma once

#include "data/image.h"
#include "data/scene.h"

namespace mod::data {

// size: width = height in pixels (>= 32 so that a 5x7 glyph fits a cell).
ImageRgb render_scene(const Scene& scene, int size);

}  // namespace mod::data
