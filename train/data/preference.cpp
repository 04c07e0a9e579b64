// Rejected answers are made by corrupting a copy of the scene and describing the copy, so the
// rejected text reads exactly like a real caption and differs only in the hallucinated fact.
#include "data/preference.h"

#include "data/describe.h"
#include "data/rng.h"
#include "data/tasks.h"

#include <algorithm>

namespace mod::data {

namespace {

bool has_shape_colour(const Scene& scene, Shape s, Colour c) {
    return std::any_of(scene.objects.begin(), scene.objects.end(),
                       [&](const Object& o) { return o.shape == s && o.colour == c; });
}

// Adds a shape of a kind absent from the scene in an empty cell (false when the grid is full).
bool add_hallucinated(Scene& scene, Rng& rng) {
    std::vector<int> empty;
    for (int i = 0; i < kGrid * kGrid; ++i) {
        if (object_at(scene, i / kGrid, i % kGrid) == nullptr) empty.push_back(i);
    }
    std::vector<Shape> absent;
    for (int s = 0; s < kShapeKinds; ++s) {
        const Shape shape = static_cast<Shape>(s);
        if (std::none_of(scene.objects.begin(), scene.objects.end(), [&](const Object& o) { return o.shape == shape; })) {
            absent.push_back(shape);
        }
    }
    if (empty.empty() || absent.empty()) return false;
    Object o;
    o.shape = rng.pick(absent);
    o.colour = static_cast<Colour>(rng.range(0, kColours - 1));
    o.size = rng.percent(50) ? Size::small : Size::large;
    const int cell = rng.pick(empty);
    o.row = cell / kGrid;
    o.col = cell % kGrid;
    scene.objects.push_back(o);
    return true;
}

// Gives one shape a colour it does not have, keeping (shape, colour) unique.
void change_colour(Scene& scene, Rng& rng) {
    std::vector<Object*> shapes;
    for (Object& o : scene.objects) {
        if (o.shape != Shape::text) shapes.push_back(&o);
    }
    Object& o = *rng.pick(shapes);
    Colour c = o.colour;
    while (c == o.colour || has_shape_colour(scene, o.shape, c)) c = static_cast<Colour>(rng.range(0, kColours - 1));
    o.colour = c;
}

int wrong_count(int truth, Rng& rng) {
    const int delta = rng.range(1, 2);
    return truth < delta || rng.percent(50) ? truth + delta : truth - delta;
}

PreferencePair caption_pair(const Scene& scene, Rng& rng) {
    PreferencePair p;
    p.question = rng.pick(describe_prompts());
    p.chosen = caption(scene);
    Scene wrong = scene;
    const int kind = rng.range(0, 2);
    if (kind == 0 && add_hallucinated(wrong, rng)) {
        p.kind = "hallucination";
        p.rejected = caption(wrong);
    } else if (kind == 2) {
        p.kind = "count";
        p.rejected = caption(scene, wrong_count(static_cast<int>(shape_objects(scene).size()), rng));
    } else {
        p.kind = "attribute";
        change_colour(wrong, rng);
        p.rejected = caption(wrong);
    }
    return p;
}

PreferencePair short_pair(const Scene& scene, Rng& rng) {
    PreferencePair p;
    switch (rng.range(0, 2)) {
        case 0: {
            const QA qa = make_vqa(scene, "count", rng);
            p = {"count", qa.question, qa.answer, std::to_string(wrong_count(std::stoi(qa.answer), rng))};
            break;
        }
        case 1: {
            const QA qa = make_vqa(scene, "color", rng);
            std::string wrong = qa.answer;
            while (wrong == qa.answer) wrong = colour_name(static_cast<Colour>(rng.range(0, kColours - 1)));
            p = {"attribute", qa.question, qa.answer, wrong};
            break;
        }
        default: {
            const QA qa = make_vqa(scene, "existence", rng);
            p = {"hallucination", qa.question, qa.answer, qa.answer == "yes" ? "no" : "yes"};
            break;
        }
    }
    p.question += std::string("\n") + kShortAnswerSuffix;
    return p;
}

}  // namespace

PreferencePair make_preference_pair(const Scene& scene, int caption_percent, Rng& rng) {
    return rng.percent(caption_percent) ? caption_pair(scene, rng) : short_pair(scene, rng);
}

}  // namespace mod::data
