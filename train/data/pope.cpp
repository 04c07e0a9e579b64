// POPE negative sampling.
#include "data/pope.h"

#include "data/rng.h"

#include <algorithm>

namespace mod::data {

void ShapeStats::add(const Scene& scene) {
    std::array<bool, kShapeKinds> present{};
    for (const Object& o : scene.objects) {
        if (o.shape != Shape::text) present[static_cast<int>(o.shape)] = true;
    }
    for (int a = 0; a < kShapeKinds; ++a) {
        if (!present[a]) continue;
        ++frequency_[a];
        for (int b = 0; b < kShapeKinds; ++b) {
            if (b != a && present[b]) ++cooccurrence_[a][b];
        }
    }
}

const std::vector<std::string>& pope_strategies() {
    static const std::vector<std::string> names = {"random", "popular", "adversarial"};
    return names;
}

std::string pope_question(Shape s) { return std::string("Is there a ") + shape_name(s) + " in the image?"; }

std::vector<PopeProbe> make_pope_probes(const Scene& scene, const ShapeStats& stats, const std::string& strategy,
                                        int per_side, Rng& rng) {
    std::vector<Shape> present, absent;
    for (int s = 0; s < kShapeKinds; ++s) {
        const Shape shape = static_cast<Shape>(s);
        const bool in = std::any_of(scene.objects.begin(), scene.objects.end(), [&](const Object& o) { return o.shape == shape; });
        (in ? present : absent).push_back(shape);
    }
    const size_t k = std::min({static_cast<size_t>(per_side), present.size(), absent.size()});
    rng.shuffle(present);
    if (strategy == "random") {
        rng.shuffle(absent);
    } else {
        // Higher score first; ties keep the shape order so the result is deterministic.
        auto score = [&](Shape s) {
            if (strategy == "popular") return stats.frequency(s);
            int64_t sum = 0;
            for (Shape p : present) sum += stats.cooccurrence(p, s);
            return sum;
        };
        std::stable_sort(absent.begin(), absent.end(), [&](Shape a, Shape b) { return score(a) > score(b); });
    }
    std::vector<PopeProbe> probes;
    for (size_t i = 0; i < k; ++i) {
        probes.push_back({present[i], true});
        probes.push_back({absent[i], false});
    }
    rng.shuffle(probes);
    return probes;
}

}  // namespace mod::data
