// The scene model of the built-in world: 1-6 objects (shapes or a short text) on a 3x3 grid over a
// textured background. A Scene is the ground truth from which every caption, question, answer,
// preference pair and eval probe is derived, and it is stored next to the images (scenes.jsonl)
// so that tests and eval can re-derive answers and score free text.
#pragma once

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace mod::data {

class Rng;

enum class Shape { circle, square, triangle, star, diamond, cross, ring, text };
enum class Colour { red, green, blue, yellow, purple, orange, black, white };
enum class Size { small, large };
enum class Texture { noise, stripes, checker, gradient };
enum class Tint { grey, tan, slate, olive };

inline constexpr int kGrid = 3;                // cells per side
inline constexpr int kShapeKinds = 7;          // shapes other than text
inline constexpr int kColours = 8;

struct Object {
    Shape shape = Shape::circle;
    Colour colour = Colour::red;
    Size size = Size::large;
    int row = 0;       // 0 = top
    int col = 0;       // 0 = left
    std::string text;  // only for Shape::text: 1-3 characters from [A-Z0-9]
};

struct Scene {
    Texture texture = Texture::noise;
    Tint tint = Tint::grey;
    uint64_t texture_seed = 0;  // the noise of the background, so a scene re-renders identically
    std::vector<Object> objects;
};

struct SceneConfig {
    int max_objects = 6;    // 1..9 (one per cell)
    int text_percent = 25;  // share of scenes with one text object
    int min_objects = 1;    // fewest shapes, 1..max_objects
};

// Shapes that tend to appear together: gives POPE's adversarial (co-occurring) negatives meaning.
const std::vector<std::vector<Shape>>& shape_themes();

Scene generate_scene(Rng& rng, const SceneConfig& config);

const char* shape_name(Shape s);
const char* shape_plural(Shape s);
const char* colour_name(Colour c);
const char* size_name(Size s);
const char* texture_name(Texture t);
const char* tint_name(Tint t);
std::string position_name(int row, int col);  // "top left", "center", "bottom right", ...
std::string line_name(bool column, int index);  // "left column", "center column", "top row", ...
std::array<uint8_t, 3> colour_rgb(Colour c);

// Name -> enum; return false when the word is not a name of that kind.
bool parse_shape(const std::string& word, Shape& out);
bool parse_colour(const std::string& word, Colour& out);
bool parse_position(const std::string& words, int& row, int& col);
bool parse_line(const std::string& words, bool& column, int& index);

// Objects that are shapes (not text), and the text object if any.
std::vector<const Object*> shape_objects(const Scene& scene);
const Object* text_object(const Scene& scene);
const Object* object_at(const Scene& scene, int row, int col);

nlohmann::ordered_json scene_to_json(const Scene& scene);
// Throws JsonError naming `where` when the JSON is not a scene.
Scene scene_from_json(const nlohmann::json& j, const std::string& where);

}  // namespace mod::data
