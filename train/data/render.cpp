// Scene rasteriser: textured background, anti-aliased shapes, bitmap text.
// Geometry works in 1/8-pixel units so that 4x4 subsample centres land on integers.
#include "data/render.h"

#include "data/font.h"
#include "data/rng.h"

#include <algorithm>
#include <cstdlib>
#include <utility>
#include <vector>

namespace mod::data {

namespace {

constexpr int kSub = 8;  // geometry units per pixel

using Point = std::pair<int64_t, int64_t>;

std::array<int, 3> tint_rgb(Tint t) {
    static const std::array<int, 3> rgb[] = {{150, 150, 150}, {175, 155, 120}, {115, 135, 160}, {140, 150, 105}};
    return rgb[static_cast<int>(t)];
}

void draw_background(const Scene& scene, ImageRgb& img) {
    Rng rng(scene.texture_seed);
    const int period = rng.range(3, 6);
    const std::array<int, 3> base = tint_rgb(scene.tint);
    for (int y = 0; y < img.height; ++y) {
        for (int x = 0; x < img.width; ++x) {
            int offset = rng.range(-4, 4);  // a little grain on every texture
            switch (scene.texture) {
                case Texture::noise: offset += rng.range(-12, 12); break;
                case Texture::stripes: offset += ((x + y) / period) % 2 ? 12 : -12; break;
                case Texture::checker: offset += (x / period + y / period) % 2 ? 12 : -12; break;
                case Texture::gradient: offset += -18 + 36 * y / std::max(1, img.height - 1); break;
            }
            uint8_t* p = img.at(x, y);
            for (int c = 0; c < 3; ++c) p[c] = static_cast<uint8_t>(std::clamp(base[c] + offset, 0, 255));
        }
    }
}

// Even-odd rule; exact in 64-bit integers.
bool inside_polygon(const std::vector<Point>& poly, int64_t px, int64_t py) {
    bool in = false;
    for (size_t i = 0, j = poly.size() - 1; i < poly.size(); j = i++) {
        const auto [xi, yi] = poly[i];
        const auto [xj, yj] = poly[j];
        if ((yi > py) != (yj > py)) {
            // px < xi + (py - yi) * (xj - xi) / (yj - yi), multiplied out with the sign of (yj - yi).
            const int64_t lhs = (px - xi) * (yj - yi);
            const int64_t rhs = (py - yi) * (xj - xi);
            if (yj > yi ? lhs < rhs : lhs > rhs) in = !in;
        }
    }
    return in;
}

// Unit outlines in 1/1000: the star alternates outer (radius 1000) and inner (radius 400) points.
std::vector<Point> unit_outline(Shape shape) {
    switch (shape) {
        case Shape::triangle: return {{0, -1000}, {900, 620}, {-900, 620}};
        case Shape::diamond: return {{0, -1000}, {1000, 0}, {0, 1000}, {-1000, 0}};
        case Shape::star:
            return {{0, -1000}, {235, -324}, {951, -309}, {380, 124}, {588, 809},
                    {0, 400},   {-588, 809}, {-380, 124}, {-951, -309}, {-235, -324}};
        default: return {};
    }
}

bool inside_shape(Shape shape, const std::vector<Point>& poly, int64_t dx, int64_t dy, int64_t r) {
    switch (shape) {
        case Shape::circle: return dx * dx + dy * dy <= r * r;
        case Shape::ring: {
            const int64_t d2 = dx * dx + dy * dy;
            const int64_t inner = r * 11 / 20;
            return d2 <= r * r && d2 >= inner * inner;
        }
        case Shape::square: return std::abs(dx) * 10 <= r * 8 && std::abs(dy) * 10 <= r * 8;
        case Shape::cross: {
            const int64_t ax = std::abs(dx), ay = std::abs(dy);
            return (ax * 3 <= r && ay <= r) || (ay * 3 <= r && ax <= r);
        }
        default: return inside_polygon(poly, dx, dy);
    }
}

void draw_shape(const Object& o, int64_t cx, int64_t cy, int64_t r, ImageRgb& img) {
    std::vector<Point> poly;
    for (const Point& u : unit_outline(o.shape)) poly.push_back({u.first * r / 1000, u.second * r / 1000});
    const std::array<uint8_t, 3> rgb = colour_rgb(o.colour);
    const int x0 = std::max<int64_t>(0, (cx - r) / kSub - 1), x1 = std::min<int64_t>(img.width - 1, (cx + r) / kSub + 1);
    const int y0 = std::max<int64_t>(0, (cy - r) / kSub - 1), y1 = std::min<int64_t>(img.height - 1, (cy + r) / kSub + 1);
    for (int y = y0; y <= y1; ++y) {
        for (int x = x0; x <= x1; ++x) {
            int covered = 0;
            for (int sy = 0; sy < 4; ++sy) {
                for (int sx = 0; sx < 4; ++sx) {
                    const int64_t px = int64_t{x} * kSub + 1 + 2 * sx - cx;
                    const int64_t py = int64_t{y} * kSub + 1 + 2 * sy - cy;
                    covered += inside_shape(o.shape, poly, px, py, r);
                }
            }
            uint8_t* p = img.at(x, y);
            for (int c = 0; c < 3; ++c) p[c] = static_cast<uint8_t>((p[c] * (16 - covered) + rgb[c] * covered) / 16);
        }
    }
}

void draw_text(const Object& o, int cx, int cy, int scale, ImageRgb& img) {
    const int n = static_cast<int>(o.text.size());
    const int w = (n * (kGlyphWidth + 1) - 1) * scale;
    const int h = kGlyphHeight * scale;
    const int left = cx - w / 2, top = cy - h / 2;
    const std::array<uint8_t, 3> rgb = colour_rgb(o.colour);
    for (int i = 0; i < n; ++i) {
        for (int gy = 0; gy < kGlyphHeight * scale; ++gy) {
            for (int gx = 0; gx < kGlyphWidth * scale; ++gx) {
                if (!glyph_pixel(o.text[i], gx / scale, gy / scale)) continue;
                const int x = left + i * (kGlyphWidth + 1) * scale + gx, y = top + gy;
                if (x < 0 || y < 0 || x >= img.width || y >= img.height) continue;
                uint8_t* p = img.at(x, y);
                for (int c = 0; c < 3; ++c) p[c] = rgb[c];
            }
        }
    }
}

}  // namespace

ImageRgb render_scene(const Scene& scene, int size) {
    ImageRgb img(size, size);
    draw_background(scene, img);
    const int cell = size / kGrid;
    const int margin = (size - cell * kGrid) / 2;
    for (const Object& o : scene.objects) {
        const int cx = margin + o.col * cell + cell / 2;
        const int cy = margin + o.row * cell + cell / 2;
        if (o.shape == Shape::text) {
            draw_text(o, cx, cy, std::max(1, size / 64), img);
        } else {
            const int64_t r = int64_t{cell} * kSub * (o.size == Size::large ? 45 : 28) / 100;
            draw_shape(o, int64_t{cx} * kSub + kSub / 2, int64_t{cy} * kSub + kSub / 2, r, img);
        }
    }
    return img;
}

}  // namespace mod::data
