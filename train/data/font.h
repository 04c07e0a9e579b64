// A built-in 5x7 bitmap font for digits, capital letters and the full stop (plot labels), so that
// rendering text needs no font package and gives the same pixels everywhere.
#pragma once

namespace mod::data {

inline constexpr int kGlyphWidth = 5;
inline constexpr int kGlyphHeight = 7;

// True when pixel (x, y) of character c is ink; false for characters the font lacks.
bool glyph_pixel(char c, int x, int y);

}  // namespace mod::data
