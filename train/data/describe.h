// Captions and noun phrases from scene truth. The wording here is the contract that tests and the
// CHAIR scorer parse back (see caption()), so change it only together with them.
#pragma once

#include "data/scene.h"

#include <string>

namespace mod::data {

// "a large red circle", or "the text \"K4\"" for text.
std::string object_phrase(const Object& o);

// The detailed caption:
//   A <texture> <tint> background with <N> shape(s). There is a <size> <colour> <shape> at the <pos>,
//   a ... and a ... at the <pos>. The text "<T>" is written in <colour> at the <pos>.
// Shapes in reading order; the text sentence only when the scene has text. claimed_shapes < 0 states
// the true count (a preference pair's rejected caption may claim a wrong one).
std::string caption(const Scene& scene, int claimed_shapes = -1);

// The prompts that ask for a detailed caption.
const std::vector<std::string>& describe_prompts();

}  // namespace mod::data
