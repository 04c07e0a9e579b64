// docs/RESULTS.md's table: eval_mod JSON files, one per seed, each scoring the same models in
// the same order, folded into one Markdown table. A cell is the mean over seeds and, with more
// than one seed, the sample standard deviation: "70.6 ± 2.1" (percent).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace mod::train {

struct SeedEval {
    std::string source;  // the file, for error messages
    nlohmann::json eval;  // eval_mod's output: {"models": [ ... ]}
};

// Rows: parameters, accuracy per task and overall, POPE F1 and yes-ratio per split, CHAIR_i,
// CHAIR_s and the shapes a caption names on average, as the first file's first model has
// them; one column per label. Throws ValueError naming the file when a file holds another
// number of models than labels, or lacks a metric.
std::string seed_table_markdown(const std::vector<SeedEval>& seeds, const std::vector<std::string>& labels);

}  // namespace mod::train
