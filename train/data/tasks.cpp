// Question templates. Each answer is computed from the Scene right where the question is chosen;
// tests/train/test_world.cpp re-derives every answer with its own parser of these templates.
#include "data/tasks.h"

#include "data/conversation.h"
#include "data/describe.h"
#include "data/rng.h"
#include "text/tokenizer.h"

#include <algorithm>
#include <cctype>

namespace mod::data {

namespace {

template <class Pred>
int count_if_shapes(const Scene& scene, Pred pred) {
    const std::vector<const Object*> shapes = shape_objects(scene);
    return static_cast<int>(std::count_if(shapes.begin(), shapes.end(), [&](const Object* o) { return pred(*o); }));
}

std::string named(const Object& o) { return std::string(colour_name(o.colour)) + " " + shape_name(o.shape); }

std::string definite(const Object& o) { return "the " + named(o); }

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

QA relation_question(const Scene& scene, Rng& rng, const QuestionStyle& style) {
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
    const std::string question = "Is " + definite(a) + " " + r + " " + definite(b) + "?";
    const std::string conclusion = yes ? "yes" : "no";
    if (!style.reasoned_relations) return {"relation", question, conclusion};
    std::string steps = "The " + named(a) + kStatedLineMark + compared_line(a, r) + " and " + definite(b) +
                        kStatedLineMark + compared_line(b, r);
    if (style.compared_relations) {
        const bool columns = relation_compares_columns(r);
        steps += kConclusionMark + definite(a) + " " + line_comparison(columns, columns ? a.col : a.row, columns ? b.col : b.row) +
                 " " + definite(b);
    }
    return {"relation", question, steps + kConclusionMark + conclusion + ".", kReasonedRelationSuffix};
}

QA text_question(const Scene& scene, Rng& rng) {
    const Object& t = *text_object(scene);
    const std::string q = rng.percent(50) ? "What is written in the image?" : "What does the text at the " + at(t) + " say?";
    return {"text", q, t.text};
}

// The (colour, shape) names of one shape's colour with another shape's kind that no shape of the
// scene has: "red circle" beside a red square and a blue circle.
std::vector<std::string> swapped_pairs(const Scene& scene) {
    const std::vector<const Object*> shapes = shape_objects(scene);
    std::vector<std::string> out;
    for (const Object* a : shapes) {
        for (const Object* b : shapes) {
            const Colour colour = a->colour;
            const Shape shape = b->shape;
            const bool held = count_if_shapes(scene, [&](const Object& p) { return p.shape == shape && p.colour == colour; }) > 0;
            const std::string name = std::string(colour_name(colour)) + " " + shape_name(shape);
            if (!held && std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
        }
    }
    return out;
}

QA existence_question(const Scene& scene, Rng& rng, bool swapped_negatives) {
    const bool with_colour = rng.percent(50);
    if (rng.percent(50)) {
        const Object& o = *rng.pick(shape_objects(scene));
        const std::string what = with_colour ? std::string(colour_name(o.colour)) + " " + shape_name(o.shape)
                                             : shape_name(o.shape);
        return {"existence", "Is there a " + what + " in the image?", "yes"};
    }
    if (swapped_negatives) {  // a colour and a kind the scene holds, never on one shape
        const std::vector<std::string> swapped = swapped_pairs(scene);
        if (!swapped.empty()) return {"existence", "Is there a " + rng.pick(swapped) + " in the image?", "no"};
    }
    // A negative probe: any absent (shape) or (colour, shape). A scene can hold all seven shapes,
    // never all 56 coloured ones, so the coloured form is the fallback.
    std::vector<std::string> absent;
    for (int s = 0; s < kShapeKinds; ++s) {
        const Shape shape = static_cast<Shape>(s);
        if (!with_colour && count_if_shapes(scene, [&](const Object& p) { return p.shape == shape; }) == 0) {
            absent.push_back(shape_name(shape));
        }
    }
    if (absent.empty()) {
        for (int s = 0; s < kShapeKinds; ++s) {
            for (int c = 0; c < kColours; ++c) {
                const Shape shape = static_cast<Shape>(s);
                const Colour colour = static_cast<Colour>(c);
                if (count_if_shapes(scene, [&](const Object& p) { return p.shape == shape && p.colour == colour; }) == 0) {
                    absent.push_back(std::string(colour_name(colour)) + " " + shape_name(shape));
                }
            }
        }
    }
    return {"existence", "Is there a " + rng.pick(absent) + " in the image?", "no"};
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

bool relation_compares_columns(const std::string& relation) {
    return relation == "to the left of" || relation == "to the right of";
}

std::string line_comparison(bool columns, int a, int b) {
    if (a == b) return columns ? kSharedColumn : kSharedRow;
    for (const std::string& r : relation_names()) {
        if (relation_compares_columns(r) == columns && (columns ? relation_holds(r, 0, a, 0, b) : relation_holds(r, a, 0, b, 0)))
            return "is " + r;
    }
    return {};  // not reached: of two different lines one is before the other
}

std::string compared_line(const Object& o, const std::string& relation) {
    const bool columns = relation_compares_columns(relation);
    return line_name(columns, columns ? o.col : o.row);
}

namespace {
// The end of the shape name ("red circle") that starts at `at`, or npos when none does.
size_t named_shape_end(const std::string& s, size_t at) {
    for (int c = 0; c < kColours; ++c) {
        for (int k = 0; k < static_cast<int>(Shape::text); ++k) {
            const std::string name = std::string(colour_name(Colour(c))) + " " + shape_name(Shape(k));
            const size_t end = at + name.size();
            if (s.compare(at, name.size(), name) == 0 && (end == s.size() || !std::isalpha(static_cast<unsigned char>(s[end]))))
                return end;
        }
    }
    return std::string::npos;
}
}  // namespace

std::string with_image_after_names(const std::string& question) {
    const std::string article = "the ";
    std::string out;
    size_t copied = 0;
    for (size_t at = question.find(article); at != std::string::npos; at = question.find(article, at + 1)) {
        if (at > 0 && std::isalpha(static_cast<unsigned char>(question[at - 1]))) continue;
        const size_t end = named_shape_end(question, at + article.size());
        if (end == std::string::npos) continue;
        out += question.substr(copied, end - copied) + text::kImageToken;
        copied = end;
    }
    if (copied == 0) return with_image_tag(question, true);
    return out + question.substr(copied);
}

std::string with_image_placed(const std::string& question, bool after_question, bool after_names) {
    return after_names ? with_image_after_names(question) : with_image_tag(question, after_question);
}

const std::string* asked_relation(const std::string& question) {
    for (const std::string& r : relation_names()) {
        if (question.find(" " + r + " the ") != std::string::npos) return &r;
    }
    return nullptr;
}

bool task_possible(const Scene& scene, const std::string& task) {
    if (task == "text") return text_object(scene) != nullptr;
    if (task == "relation") return shape_objects(scene).size() >= 2;
    return true;
}

QA make_vqa(const Scene& scene, const std::string& task, Rng& rng, const QuestionStyle& style) {
    if (task == "color") return color_question(scene, rng);
    if (task == "shape") return shape_question(scene, rng);
    if (task == "count") return count_question(scene, rng);
    if (task == "position") return position_question(scene, rng);
    if (task == "relation") return relation_question(scene, rng, style);
    if (task == "text") return text_question(scene, rng);
    return existence_question(scene, rng, style.swapped_negatives);
}

QA make_general_turn(const Scene& scene, Rng& rng) {
    switch (rng.range(0, 3)) {
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
