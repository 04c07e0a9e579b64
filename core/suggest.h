// "Did you mean ...?": the nearest known word to a misspelt key, for error messages.
#pragma once

#include <cstddef>
#include <limits>
#include <string>
#include <vector>

namespace mod {

// Levenshtein distance (insertions, deletions, substitutions each cost 1).
size_t edit_distance(const std::string& a, const std::string& b);

// The candidate closest to word (the first of equals), or "" when there is no candidate
// within max_distance edits.
std::string nearest(const std::string& word, const std::vector<std::string>& candidates,
                    size_t max_distance = std::numeric_limits<size_t>::max());

}  // namespace mod
