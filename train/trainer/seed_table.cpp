#include "trainer/seed_table.h"

#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "trainer/eval.h"

namespace mod::train {

namespace {

enum class Kind { count, percent, ratio };

// One table row: a label and where its value sits in one model's eval JSON, divided by the
// value at `per` when that is given.
struct Row {
    std::string label;
    nlohmann::json::json_pointer at;
    Kind kind;
    nlohmann::json::json_pointer per{};
};

// The rows of the first model's metrics (every seed and model is checked against them).
std::vector<Row> table_rows(const nlohmann::json& first_model) {
    using ptr = nlohmann::json::json_pointer;
    std::vector<Row> rows = {{"parameters (activated)", ptr("/parameters/activated"), Kind::count},
                             {"parameters (total)", ptr("/parameters/total"), Kind::count}};
    if (first_model.contains("understanding") && first_model["understanding"].contains("tasks")) {
        for (const auto& [task, value] : first_model["understanding"]["tasks"].items())
            rows.push_back(
                {"vqa " + task + " acc %", ptr("/understanding/tasks/" + task + "/accuracy"), Kind::percent});
    }
    rows.push_back({"vqa overall acc %", ptr("/understanding/overall/accuracy"), Kind::percent});
    for (const char* split : {"random", "popular", "adversarial"}) {
        const std::string s = split;
        if (!first_model.contains("pope") || !first_model["pope"].contains(s)) continue;
        rows.push_back({"pope " + s + " F1 %", ptr("/pope/" + s + "/f1"), Kind::percent});
        rows.push_back({"pope " + s + " yes-ratio %", ptr("/pope/" + s + "/yes_ratio"), Kind::percent});
    }
    rows.push_back({"CHAIR_i %", ptr("/chair/chair_i"), Kind::percent});
    rows.push_back({"CHAIR_s %", ptr("/chair/chair_s"), Kind::percent});
    // CHAIR is 0 for a model whose captions name no shape at all: this row tells the two apart.
    rows.push_back({"shapes named per caption", ptr("/chair/mentioned"), Kind::ratio, ptr("/chair/captions")});
    return rows;
}

std::string mean_and_spread(const std::vector<double>& values, Kind kind) {
    double mean = 0;
    for (double v : values) mean += v;
    mean /= static_cast<double>(values.size());
    if (kind == Kind::count) return count_si(std::llround(mean));  // the same for every seed
    double var = 0;
    for (double v : values) var += (v - mean) * (v - mean);
    const double unit = kind == Kind::percent ? 100 : 1;
    const char* format = kind == Kind::percent ? "%.1f" : "%.2f";
    char buf[64];
    std::snprintf(buf, sizeof buf, format, unit * mean);
    std::string out = buf;
    if (values.size() >= 2) {
        std::snprintf(buf, sizeof buf, format, unit * std::sqrt(var / static_cast<double>(values.size() - 1)));
        out += std::string(" ± ") + buf;
    }
    return out;
}

// The row's value for one model: the number at row.at, divided by the one at row.per if any.
double row_value(const Row& row, const nlohmann::json& model, const std::string& source, size_t m) {
    auto number = [&](const nlohmann::json::json_pointer& at) {
        MOD_CHECK(model.contains(at) && model[at].is_number(), ValueError, "seed_table", source, ": model ", m,
                  " has no number at ", at.to_string());
        return model[at].get<double>();
    };
    if (row.per.empty()) return number(row.at);
    const double denominator = number(row.per);
    return denominator != 0 ? number(row.at) / denominator : 0.0;
}

}  // namespace

std::string seed_table_markdown(const std::vector<SeedEval>& seeds, const std::vector<std::string>& labels) {
    MOD_CHECK(!seeds.empty(), ValueError, "seed_table", "at least one eval file expected");
    for (const SeedEval& s : seeds) {
        const bool ok =
            s.eval.contains("models") && s.eval["models"].is_array() && s.eval["models"].size() == labels.size();
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
            for (const SeedEval& s : seeds) values.push_back(row_value(row, s.eval["models"][m], s.source, m));
            out += " " + mean_and_spread(values, row.kind) + " |";
        }
        out += "\n";
    }
    return out;
}

}  // namespace mod::train
