// Caption wording (see describe.h for the exact grammar).
#include "data/describe.h"

#include <algorithm>

namespace mod::data {

std::string object_phrase(const Object& o) {
    if (o.shape == Shape::text) return "the text \"" + o.text + "\"";
    return std::string("a ") + size_name(o.size) + " " + colour_name(o.colour) + " " + shape_name(o.shape);
}

std::string caption(const Scene& scene, int claimed_shapes) {
    std::vector<const Object*> shapes = shape_objects(scene);
    std::sort(shapes.begin(), shapes.end(),
              [](const Object* a, const Object* b) { return a->row * kGrid + a->col < b->row * kGrid + b->col; });
    const int n = claimed_shapes < 0 ? static_cast<int>(shapes.size()) : claimed_shapes;
    std::string out = std::string("A ") + texture_name(scene.texture) + " " + tint_name(scene.tint) +
                      " background with " + std::to_string(n) + (n == 1 ? " shape." : " shapes.");
    for (size_t i = 0; i < shapes.size(); ++i) {
        out += i == 0 ? " There is " : (i + 1 == shapes.size() ? " and " : ", ");
        out += object_phrase(*shapes[i]) + " at the " + position_name(shapes[i]->row, shapes[i]->col);
    }
    if (!shapes.empty()) out += ".";
    if (const Object* t = text_object(scene)) {
        out += " The text \"" + t->text + "\" is written in " + colour_name(t->colour) + " at the " +
               position_name(t->row, t->col) + ".";
    }
    return out;
}

const std::vector<std::string>& describe_prompts() {
    static const std::vector<std::string> prompts = {"Describe the image in detail.", "What do you see in this image?",
                                                     "Give a detailed description of the image."};
    return prompts;
}

}  // namespace mod::data
