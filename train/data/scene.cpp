// Scene generation and the names, parsing and JSON form of scene truth.
#include "data/scene.h"

#include "data/errors.h"
#include "data/rng.h"

#include <algorithm>

namespace mod::data {

namespace {

// Letters and digits that stay distinct in a 5x7 font at 64x64 (no O/0, I/1, B/8, Q).
constexpr const char* kTextAlphabet = "ACDEFGHJKLMNPRSTUVWXYZ234579";

const char* const kShapeNames[] = {"circle", "square", "triangle", "star", "diamond", "cross", "ring", "text"};
const char* const kShapePlurals[] = {"circles", "squares", "triangles", "stars", "diamonds", "crosses", "rings",
                                     "texts"};
const char* const kColourNames[] = {"red", "green", "blue", "yellow", "purple", "orange", "black", "white"};
const char* const kRowNames[] = {"top", "middle", "bottom"};
const char* const kColNames[] = {"left", "center", "right"};

template <class E>
E enum_at(int i) {
    return static_cast<E>(i);
}

}  // namespace

const std::vector<std::vector<Shape>>& shape_themes() {
    static const std::vector<std::vector<Shape>> themes = {
        {Shape::circle, Shape::ring, Shape::star},
        {Shape::square, Shape::cross, Shape::diamond},
        {Shape::triangle, Shape::star, Shape::diamond},
    };
    return themes;
}

Scene generate_scene(Rng& rng, const SceneConfig& config) {
    Scene scene;
    scene.texture = enum_at<Texture>(rng.range(0, 3));
    scene.tint = enum_at<Tint>(rng.range(0, 3));
    scene.texture_seed = rng.next();

    const int max_objects = std::clamp(config.max_objects, 1, kGrid * kGrid - 1);
    const int n_shapes = rng.range(std::clamp(config.min_objects, 1, max_objects), max_objects);
    const bool with_text = rng.percent(config.text_percent);

    std::vector<int> cells(kGrid * kGrid);
    for (int i = 0; i < kGrid * kGrid; ++i) cells[i] = i;
    rng.shuffle(cells);

    const std::vector<Shape>& theme = rng.pick(shape_themes());
    for (int i = 0; i < n_shapes; ++i) {
        Object o;
        // (shape, colour) is unique in a scene so that "the red circle" always names one object.
        do {
            o.shape = rng.percent(75) ? rng.pick(theme) : enum_at<Shape>(rng.range(0, kShapeKinds - 1));
            o.colour = enum_at<Colour>(rng.range(0, kColours - 1));
        } while (std::any_of(scene.objects.begin(), scene.objects.end(), [&](const Object& p) {
            return p.shape == o.shape && p.colour == o.colour;
        }));
        o.size = rng.percent(50) ? Size::small : Size::large;
        o.row = cells[i] / kGrid;
        o.col = cells[i] % kGrid;
        scene.objects.push_back(o);
    }
    if (with_text) {
        Object t;
        t.shape = Shape::text;
        t.colour = enum_at<Colour>(rng.range(0, kColours - 1));
        t.size = Size::small;
        t.row = cells[n_shapes] / kGrid;
        t.col = cells[n_shapes] % kGrid;
        const int len = rng.range(1, 3);
        const std::string alphabet = kTextAlphabet;
        for (int k = 0; k < len; ++k) t.text += alphabet[rng.below(alphabet.size())];
        scene.objects.push_back(t);
    }
    return scene;
}

const char* shape_name(Shape s) { return kShapeNames[static_cast<int>(s)]; }
const char* shape_plural(Shape s) { return kShapePlurals[static_cast<int>(s)]; }
const char* colour_name(Colour c) { return kColourNames[static_cast<int>(c)]; }
const char* size_name(Size s) { return s == Size::small ? "small" : "large"; }

const char* texture_name(Texture t) {
    static const char* const names[] = {"noisy", "striped", "checkered", "shaded"};
    return names[static_cast<int>(t)];
}

const char* tint_name(Tint t) {
    static const char* const names[] = {"grey", "tan", "slate", "olive"};
    return names[static_cast<int>(t)];
}

std::string position_name(int row, int col) {
    if (row == 1 && col == 1) return "center";
    return std::string(kRowNames[row]) + " " + kColNames[col];
}

std::string line_name(bool column, int index) {
    return column ? std::string(kColNames[index]) + " column" : std::string(kRowNames[index]) + " row";
}

std::array<uint8_t, 3> colour_rgb(Colour c) {
    static const std::array<uint8_t, 3> rgb[] = {{220, 40, 40},  {40, 170, 60},  {40, 80, 230}, {245, 220, 40},
                                                 {150, 60, 200}, {250, 140, 30}, {20, 20, 20},  {250, 250, 250}};
    return rgb[static_cast<int>(c)];
}

bool parse_shape(const std::string& word, Shape& out) {
    for (int i = 0; i <= kShapeKinds; ++i) {
        if (word == kShapeNames[i]) {
            out = enum_at<Shape>(i);
            return true;
        }
    }
    return false;
}

bool parse_colour(const std::string& word, Colour& out) {
    for (int i = 0; i < kColours; ++i) {
        if (word == kColourNames[i]) {
            out = enum_at<Colour>(i);
            return true;
        }
    }
    return false;
}

bool parse_position(const std::string& words, int& row, int& col) {
    for (int r = 0; r < kGrid; ++r) {
        for (int c = 0; c < kGrid; ++c) {
            if (words == position_name(r, c)) {
                row = r;
                col = c;
                return true;
            }
        }
    }
    return false;
}

bool parse_line(const std::string& words, bool& column, int& index) {
    for (int i = 0; i < kGrid; ++i) {
        for (const bool c : {true, false}) {
            if (words == line_name(c, i)) {
                column = c;
                index = i;
                return true;
            }
        }
    }
    return false;
}

std::vector<const Object*> shape_objects(const Scene& scene) {
    std::vector<const Object*> out;
    for (const Object& o : scene.objects) {
        if (o.shape != Shape::text) out.push_back(&o);
    }
    return out;
}

const Object* text_object(const Scene& scene) {
    for (const Object& o : scene.objects) {
        if (o.shape == Shape::text) return &o;
    }
    return nullptr;
}

const Object* object_at(const Scene& scene, int row, int col) {
    for (const Object& o : scene.objects) {
        if (o.row == row && o.col == col) return &o;
    }
    return nullptr;
}

nlohmann::ordered_json scene_to_json(const Scene& scene) {
    nlohmann::ordered_json j;
    j["texture"] = texture_name(scene.texture);
    j["tint"] = tint_name(scene.tint);
    j["texture_seed"] = scene.texture_seed;
    nlohmann::ordered_json objects = nlohmann::ordered_json::array();
    for (const Object& o : scene.objects) {
        nlohmann::ordered_json jo;
        jo["shape"] = shape_name(o.shape);
        jo["color"] = colour_name(o.colour);
        jo["size"] = size_name(o.size);
        jo["row"] = o.row;
        jo["col"] = o.col;
        if (o.shape == Shape::text) jo["text"] = o.text;
        objects.push_back(jo);
    }
    j["objects"] = objects;
    return j;
}

Scene scene_from_json(const nlohmann::json& j, const std::string& where) {
    auto fail = [&](const std::string& what) { throw JsonError("[scene_from_json] " + where + ": " + what); };
    if (!j.is_object() || !j.contains("objects") || !j["objects"].is_array()) fail("expected an object with \"objects\"");
    Scene scene;
    auto find_name = [&](const std::string& name, auto namer, int n, const char* what) {
        for (int i = 0; i < n; ++i) {
            if (name == namer(i)) return i;
        }
        fail(std::string("unknown ") + what + " \"" + name + "\"");
        return 0;
    };
    try {
        scene.texture = enum_at<Texture>(find_name(j.at("texture").get<std::string>(),
                                                   [](int i) { return texture_name(enum_at<Texture>(i)); }, 4, "texture"));
        scene.tint = enum_at<Tint>(
            find_name(j.at("tint").get<std::string>(), [](int i) { return tint_name(enum_at<Tint>(i)); }, 4, "tint"));
        scene.texture_seed = j.at("texture_seed").get<uint64_t>();
        for (const auto& jo : j["objects"]) {
            Object o;
            if (!parse_shape(jo.at("shape").get<std::string>(), o.shape)) fail("unknown shape");
            if (!parse_colour(jo.at("color").get<std::string>(), o.colour)) fail("unknown color");
            o.size = jo.at("size").get<std::string>() == "small" ? Size::small : Size::large;
            o.row = jo.at("row").get<int>();
            o.col = jo.at("col").get<int>();
            if (o.row < 0 || o.row >= kGrid || o.col < 0 || o.col >= kGrid) fail("row/col outside the grid");
            if (o.shape == Shape::text) o.text = jo.at("text").get<std::string>();
            scene.objects.push_back(o);
        }
    } catch (const nlohmann::json::exception& e) {
        fail(e.what());
    }
    return scene;
}

}  // namespace mod::data
