// An independent reader of the world's wording: re-derives each answer from stored scene truth,
// without calling the generator's phrase code, so a generator bug cannot vouch for itself.
#pragma once

#include "data/scene.h"

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>

namespace mod::test {

// The answer the question must have given the scene (short answers for VQA-style questions, which
// end with the short-answer instruction); nullopt when the question matches no known template.
std::optional<std::string> expected_answer(const data::Scene& scene, const std::string& question);

// The answer of a reasoned relation question in a world with compared_relations: the steps, then
// how the two shapes stand along the line, then the conclusion; nullopt for any other question.
std::optional<std::string> compared_answer(const data::Scene& scene, const std::string& question);

// True when a caption states only facts of the scene and mentions every shape; `why` says what is wrong.
bool caption_true(const data::Scene& scene, const std::string& caption, std::string* why);

// Checks an answer to a question: captions by caption_true, others against expected_answer.
// Returns an empty string when true, else the reason.
std::string check_answer(const data::Scene& scene, const std::string& question, const std::string& answer);

// image path -> scene, from a scenes.jsonl file.
std::map<std::string, data::Scene> read_scenes(const std::string& path);

}  // namespace mod::test
