// seed_table: eval_mod JSON files of several seeds, each scoring the same models in the same
// order, as one Markdown table of means and spreads (trainer/seed_table.h). scripts/results.sh
// makes docs/RESULTS.md's table with it.
//   seed_table eval=s0/eval.json,s1/eval.json,s2/eval.json labels="(a) teacher,(b) SFT" out=table.md
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "core/file_io.h"
#include "data/args.h"
#include "data/errors.h"
#include "trainer/seed_table.h"

int main(int argc, char** argv) {
    mod::data::KeyValueArgs args("seed_table", "Folds eval_mod JSON files of several seeds into one Markdown table.");
    args.add("eval", "", "eval_mod JSON files, one per seed, comma-separated (required)");
    args.add("labels", "", "column titles, comma-separated, one per model of each file (required)");
    args.add("out", "", "Markdown file for the table; empty = stdout only");
    try {
        if (!args.parse(argc, argv)) {
            std::fputs(args.help().c_str(), stdout);
            return 0;
        }
        const std::vector<std::string> files = args.get_list("eval");
        const std::vector<std::string> labels = args.get_list("labels");
        if (files.empty() || labels.empty())
            throw mod::data::ArgError("eval= and labels= are required (comma-separated lists)");
        std::vector<mod::train::SeedEval> seeds;
        for (const std::string& f : files) {
            try {
                seeds.push_back({f, nlohmann::json::parse(mod::read_text_file(f, "eval"))});
            } catch (const nlohmann::json::parse_error& e) {
                throw mod::data::JsonError(f + ": malformed JSON (" + e.what() + ")");
            }
        }
        const std::string table = mod::train::seed_table_markdown(seeds, labels);
        std::fputs(table.c_str(), stdout);
        if (!args.get("out").empty()) mod::write_file_atomic(args.get("out"), table);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "seed_table: %s\n", e.what());
    }
    return 1;
}
