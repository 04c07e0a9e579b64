// Question templates. Each answer is computed from the Scene right where the question is chosen;
// tests/train/test_world.cpp re-derives every answer with its own parser of these templates.
#include "data/tasks.h"

#include "data/describe.h"
#include "data/rng.h"

#include <algorithm>
#include <cctype>

namespace mod::data {

namespace {

template <class Pred>
int count_if_shapes(const Scene& scene, Pred pred) {
    const std::vector<const Object*> shapes = shape_objects(scene);
    return static_cast<int>(std::count_if(shapes.begin(), shapes.end(), [&](const Object* o) { return pred(*o); }));
}

std::string definite(const Object& o) {
    return std::string("the ") + colour_name(o.colour) + " " + shape_name(o.shape);
}

std::string at(const Object& o) { return position_name(o.row, o.col); }

QA color_question(const Scene& scene, Rng& rng) {
    const Object& o = *rng.pick(shape_objects(scene));
    const bool unique = count_if_shapes(scene, [&](const Object& p) { return p.shape == o.shape; }) == 1;
    const std::string q = unique ? std::string("What color is the ") + shape_name(o.shape) + "?"
                                 : std::string("What color is the ") + shape_name(o.shape) + " at the " + at(o) + "?";
    return {"color", q, colour_name(o.colour)};
}

QA shape_question(const Scene& scene, Rng& rng) {
    const Object& o = *rng.pick(shape_objects(scene));
    // Unique among all objects, text included, so that "the red object" names one thing.
    const bool unique = std::count_if(scene.objects.begin(), scene.objects.end(),
                                      [&](const Object& p) { return p.colour == o.colour; }) == 1;
    const std::string q = unique ? std::string("What shape is the ") + colour_name(o.colour) + " object?"
                                 : "What shape is at the " + at(o) + "?";
    return {"shape", q, shape_name(o.shape)};
}

QA count_question(const Scene& scene, Rng& rng) {
    switch (rng.range(0, 2)) {
        case 0:
            return {"count", "How many shapes are there?", std::to_string(shape_objects(scene).size())};
        case 1: {
            // Mostly shapes that are present, sometimes any (answer 0 teaches absence too).
            const Shape s = rng.percent(70) ? rng.pick(shape_objects(scene))->shape
                                            : static_cast<Shape>(rng.range(0, kShapeKinds - 1));
            return {"count", std::string("How many ") + shape_plural(s) + " are there?",
                    std::to_string(count_if_shapes(scene, [&](const Object& p) { return p.shape == s; }))};
        }
        default: {
            const Colour c = rng.percent(70) ? rng.pick(shape_objects(scene))->colour
                                             : static_cast<Colour>(rng.range(0, kColours - 1));
            return {"count", std::string("How many ") + colour_name(c) + " shapes are there?",
                    std::to_string(count_if_shapes(scene, [&](const Object& p) { return p.colour == c; }))};
        }
    }
}

QA position_question(const Scene& scene, Rng& rng) {
    const Object& o = *rng.pick(shape_objects(scene));
    return {"position", "Where is " + definite(o) + "?", at(o)};
}

QA relation_question(const Scene& scene, Rng& rng) {
    std::vector<const Object*> shapes = shape_objects(scene);
    rng.shuffle(shapes);
    const Object& a = *shapes[0];
    const Object& b = *shapes[1];
    std::vector<std::string> holds, fails;
    for (const std::string& r : relation_names()) {
        (relation_holds(r, a.row, a.col, b.row, b.col) ? holds : fails).push_back(r);
    }
    const bool yes = rng.percent(50);
    const std::string& r = rng.pick(yes ? holds : fails);  // cells differ, so both lists are non-empty
    return {"relation", "Is " + definite(a) + " " + r + " " + definite(b) + "?", yes ? "yes" : "no"};
}

QA text_question(const Scene& scene, Rng& rng) {
    const Object& t = *text_object(scene);
    const std::string q = rng.percent(50) ? "What is written in the image?" : "What does the text at the " + at(t) + " say?";
    return {"text", q, t.text};
}

// An existence probe: a (colour) shape that the scene holds or not, and the shapes that match it.
struct ExistenceProbe {
    std::string what;  // "star" or "red star"
    Shape shape;
    std::vector<const Object*> matches;
};

ExistenceProbe existence_probe(const Scene& scene, Rng& rng) {
    const bool with_colour = rng.percent(50);
    auto probe = [&](Shape shape, const Colour* colour) {
        ExistenceProbe p{colour ? std::string(colour_name(*colour)) + " " + shape_name(shape) : shape_name(shape),
                         shape,
                         {}};
        for (const Object* o : shape_objects(scene)) {
            if (o->shape == shape && (colour == nullptr || o->colour == *colour)) p.matches.push_back(o);
        }
        return p;
    };
    if (rng.percent(50)) {
        const Object& o = *rng.pick(shape_objects(scene));
        return probe(o.shape, with_colour ? &o.colour : nullptr);
    }
    // A negative probe: any absent (shape) or (colour, shape). A scene can hold all seven shapes,
    // never all 56 coloured ones, so the coloured form is the fallback.
    std::vector<std::pair<Shape, Colour>> absent;  // colour used only when coloured
    bool coloured = with_colour;
    for (int s = 0; s < kShapeKinds && !with_colour; ++s) {
        const Shape shape = static_cast<Shape>(s);
        if (count_if_shapes(scene, [&](const Object& p) { return p.shape == shape; }) == 0) {
            absent.emplace_back(shape, Colour{});
        }
    }
    if (absent.empty()) {
        coloured = true;
        for (int s = 0; s < kShapeKinds; ++s) {
            for (int c = 0; c < kColours; ++c) {
                const Shape shape = static_cast<Shape>(s);
                const Colour colour = static_cast<Colour>(c);
                if (count_if_shapes(scene, [&](const Object& p) { return p.shape == shape && p.colour == colour; }) == 0) {
                    absent.emplace_back(shape, colour);
                }
            }
        }
    }
    const std::pair<Shape, Colour> pick = rng.pick(absent);
    return probe(pick.first, coloured ? &pick.second : nullptr);
}

QA existence_question(const Scene& scene, Rng& rng) {
    const ExistenceProbe p = existence_probe(scene, rng);
    return {"existence", "Is there a " + p.what + " in the image?", p.matches.empty() ? "no" : "yes"};
}

// Existence in a sentence: which object answers it, and where.
QA existence_turn(const Scene& scene, Rng& rng) {
    const ExistenceProbe p = existence_probe(scene, rng);
    const std::string q = "Is there a " + p.what + " in the image?";
    if (p.matches.empty()) return {"general", q, "No, there is no " + p.what + " in the image."};
    if (p.matches.size() == 1) {
        return {"general", q, "Yes, there is " + object_phrase(*p.matches[0]) + " at the " + at(*p.matches[0]) + "."};
    }
    return {"general", q, "Yes, there are " + std::to_string(p.matches.size()) + " " + shape_plural(p.shape) + "."};
}

// Where one shape stands from another, both ways that apply: "to the left of and above".
QA relation_turn(const Scene& scene, Rng& rng) {
    std::vector<const Object*> shapes = shape_objects(scene);
    rng.shuffle(shapes);
    const Object& a = *shapes[0];
    const Object& b = *shapes[1];
    std::vector<std::string> holds;
    for (const std::string& r : relation_names()) {
        if (relation_holds(r, a.row, a.col, b.row, b.col)) holds.push_back(r);
    }
    std::string where = holds[0];  // cells differ, so at least one relation holds
    if (holds.size() == 2) where += " and " + holds[1];
    const std::string a_name = definite(a);
    return {"general", "Where is " + a_name + " compared to " + definite(b) + "?",
            static_cast<char>(std::toupper(a_name[0])) + a_name.substr(1) + " is " + where + " " + definite(b) + "."};
}

}  // namespace

const std::vector<std::string>& vqa_task_names() {
    static const std::vector<std::string> names = {"color", "shape", "count", "position", "relation", "text", "existence"};
    return names;
}

const std::vector<std::string>& relation_names() {
    static const std::vector<std::string> names = {"to the left of", "to the right of", "above", "below"};
    return names;
}

bool relation_holds(const std::string& relation, int ra, int ca, int rb, int cb) {
    if (relation == "to the left of") return ca < cb;
    if (relation == "to the right of") return ca > cb;
    if (relation == "above") return ra < rb;
    return ra > rb;  // below
}

bool task_possible(const Scene& scene, const std::string& task) {
    if (task == "text") return text_object(scene) != nullptr;
    if (task == "relation") return shape_objects(scene).size() >= 2;
    return true;
}

QA make_vqa(const Scene& scene, const std::string& task, Rng& rng) {
    if (task == "color") return color_question(scene, rng);
    if (task == "shape") return shape_question(scene, rng);
    if (task == "count") return count_question(scene, rng);
    if (task == "position") return position_question(scene, rng);
    if (task == "relation") return relation_question(scene, rng);
    if (task == "text") return text_question(scene, rng);
    return existence_question(scene, rng);
}

QA make_general_turn(const Scene& scene, Rng& rng) {
    switch (rng.range(0, shape_objects(scene).size() >= 2 ? 5 : 4)) {
        case 0: {
            const int row = rng.range(0, kGrid - 1), col = rng.range(0, kGrid - 1);
            const std::string q = "What is at the " + position_name(row, col) + "?";
            const Object* o = object_at(scene, row, col);
            if (o == nullptr) return {"general", q, "Nothing, that part of the image is empty."};
            if (o->shape == Shape::text) {
                return {"general", q, "The text \"" + o->text + "\" is written there in " + colour_name(o->colour) + "."};
            }
            return {"general", q, "There is " + object_phrase(*o) + " at the " + position_name(row, col) + "."};
        }
        case 1: {
            const size_t n = shape_objects(scene).size();
            return {"general", "How many shapes are in the image?",
                    n == 1 ? "There is 1 shape." : "There are " + std::to_string(n) + " shapes."};
        }
        case 2: {
            const Object* t = text_object(scene);
            return {"general", "Is there any text in the image?",
                    t ? "Yes, it says \"" + t->text + "\"." : "No, there is no text in the image."};
        }
        case 4:
            return existence_turn(scene, rng);
        case 5:
            return relation_turn(scene, rng);  // drawn only when the scene has two shapes
        default: {
            const Object& o = *rng.pick(shape_objects(scene));
            const std::string s = shape_name(o.shape);
            const std::string where = count_if_shapes(scene, [&](const Object& p) { return p.shape == o.shape; }) == 1
                                          ? ""
                                          : " at the " + at(o);
            return {"general", "What color is the " + s + where + "?",
                    "The " + s + where + " is " + colour_name(o.colour) + "."};
        }
    }
}

}  // namespace mod::data
