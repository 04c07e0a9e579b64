#include "trainer/seed_table.h"

#include <cmath>
#include <cstdio>
#include <functional>

#include "core/error.h"
#include "trainer/eval.h"

namespace mod::train {

namespace {

// One table row: a label and where its value sits in one model's eval JSON.
struct Row {
    std::string label;
    nlohmann::json::json_pointer at;
    bool is_count;  // a parameter count; otherwise a rate shown in percent
};

// The rows of the first model's metrics (every seed and model is checked against them).
std::vector<Row> table_rows(const nlohmann::json& first_model) {
    using ptr = nlohmann::json::json_pointer;
    std::vector<Row> rows = {{"parameters (activated)", ptr("/parameters/activated"), true},
                             {"parameters (total)", ptr("/parameters/total"), true}};
    if (first_model.contains("understanding") && first_model["understanding"].contains("tasks")) {
        for (const auto& [task, value] : first_model["understanding"]["tasks"].items())
            rows.push_back({"vqa " + task + " acc %", ptr("/understanding/tasks/" + task + "/accuracy"), false});
    }
    rows.push_back({"vqa overall acc %", ptr("/understanding/overall/accuracy"), false});
    for (const char* split : {"random", "popular", "adversarial"}) {
        const std::string s = split;
        if (!first_model.contains("pope") || !first_model["pope"].contains(s)) continue;
        rows.push_back({"pope " + s + " F1 %", ptr("/pope/" + s + "/f1"), false});
        rows.push_back({"pope " + s + " yes-ratio %", ptr("/pope/" + s + "/yes_ratio"), false});
    }
    rows.push_back({"CHAIR_i %", ptr("/chair/chair_i"), false});
    rows.push_back({"CHAIR_s %", ptr("/chair/chair_s"), false});
    return rows;
}

std::string mean_and_spread(const std::vector<double>& values, bool is_count) {
    double mean = 0;
    for (double v : values) mean += v;
    mean /= static_cast<double>(values.size());
    if (is_count) return count_si(std::llround(mean));  // the same for every seed
    double var = 0;
    for (double v : values) var += (v - mean) * (v - mean);
    char buf[64];
    if (values.size() < 2) {
        std::snprintf(buf, sizeof buf, "%.1f", 100 * mean);
    } else {
        std::snprintf(buf, sizeof buf, "%.1f ± %.1f", 100 * mean,
                      100 * std::sqrt(var / static_cast<double>(values.size() - 1)));
    }
    return buf;
}

}  // namespace

std::string seed_table_markdown(const std::vector<SeedEval>& seeds, const std::vector<std::string>& labels) {
    MOD_CHECK(!seeds.empty(), ValueError, "seed_table", "at least one eval file expected");
    for (const SeedEval& s : seeds) {
        const bool ok = s.eval.contains("models") && s.eval["models"].is_array() && s.eval["models"].size() == labels.size();
        MOD_CHECK(ok, ValueError, "seed_table", s.source, ": a \"models\" array of ", labels.size(),
                  " models (one per label) expected");
    }
    const std::vector<Row> rows = table_rows(seeds.front().eval["models"][0]);
    std::string out = "| metric |";
    std::string rule = "|---|";
    for (const std::string& label : labels) {
        out += " " + label + " |";
        rule += "---|";
    }
    out += "\n" + rule + "\n";
    for (const Row& row : rows) {
        out += "| " + row.label + " |";
        for (size_t m = 0; m < labels.size(); ++m) {
            std::vector<double> values;
            for (const SeedEval& s : seeds) {
                const nlohmann::json& model = s.eval["models"][m];
                MOD_CHECK(model.contains(row.at) && model[row.at].is_number(), ValueError, "seed_table", s.source,
                          ": model ", m, " has no number at ", row.at.to_string());
                values.push_back(model[row.at].get<double>());
            }
            out += " " + mean_and_spread(values, row.is_count) + " |";
        }
        out += "\n";
    }
    return out;
}

}  // namespace mod::train
