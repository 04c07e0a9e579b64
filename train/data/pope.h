// POPE-style existence probes ("Is there a <shape> in the image?") for held-out scenes: as many
// absent as present shapes, the absent ones drawn at random, from the most frequent shapes of the
// training scenes (popular) or from those that most often co-occur with the present ones (adversarial).
#pragma once

#include "data/scene.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace mod::data {

class Rng;

// Shape statistics of the training scenes, accumulated one scene at a time (O(1) memory).
class ShapeStats {
public:
    void add(const Scene& scene);
    int64_t frequency(Shape s) const { return frequency_[static_cast<int>(s)]; }
    int64_t cooccurrence(Shape a, Shape b) const { return cooccurrence_[static_cast<int>(a)][static_cast<int>(b)]; }

private:
    std::array<int64_t, kShapeKinds> frequency_{};  // scenes containing the shape
    std::array<std::array<int64_t, kShapeKinds>, kShapeKinds> cooccurrence_{};
};

struct PopeProbe {
    Shape shape;
    bool present;
};

// strategy: random, popular or adversarial. At most `per_side` probes of each answer.
std::vector<PopeProbe> make_pope_probes(const Scene& scene, const ShapeStats& stats, const std::string& strategy,
                                        int per_side, Rng& rng);

const std::vector<std::string>& pope_strategies();

std::string pope_question(Shape s);

}  // namespace mod::data
