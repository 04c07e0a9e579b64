// Preference pairs as RLAIF-V pairs differ: the chosen answer is faithful to the scene, the rejected
// one is the same answer with a hallucinated object, a wrong attribute or a wrong count.
#pragma once

#include "data/scene.h"

#include <string>

namespace mod::data {

class Rng;

struct PreferencePair {
    std::string kind;  // hallucination, attribute, count
    std::string question;
    std::string chosen;
    std::string rejected;
};

// caption_percent: share of pairs that are detailed captions (the rest are short answers).
PreferencePair make_preference_pair(const Scene& scene, int caption_percent, Rng& rng);

}  // namespace mod::data
