// eval_mod: scores one or more checkpoints on a world's held-out sets (trainer/eval.h) and prints
// them side by side, one column per model; the same numbers go to a JSON file.
//   eval_mod model=runs/teacher,runs/imitation data=data/world limit=200 out=eval.json
#include <omp.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "core/runtime.h"
#include "data/args.h"
#include "data/errors.h"
#include "trainer/checkpoint.h"
#include "trainer/options.h"
#include "trainer/stages.h"
#include "trainer/eval.h"

namespace {

// Progress on stderr: a line rewritten in place on a terminal, one line per finished set elsewhere.
void print_progress(const std::string& model, const std::string& set, int64_t done, int64_t total, bool tty,
                    std::chrono::steady_clock::time_point start) {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (tty) {
        std::fprintf(stderr, "\r[eval_mod] %s: %s %lld/%lld (%.0f s)", model.c_str(), set.c_str(),
                     static_cast<long long>(done), static_cast<long long>(total), seconds);
        if (done == total) std::fputc('\n', stderr);
    } else if (done == total) {
        std::fprintf(stderr, "[eval_mod] %s: %s %lld samples (%.0f s)\n", model.c_str(), set.c_str(),
                     static_cast<long long>(total), seconds);
    }
    std::fflush(stderr);
}

}  // namespace

int main(int argc, char** argv) {
    mod::use_short_openmp_spin(argv);  // idle OpenMP threads spin briefly, then yield the core
    mod::data::KeyValueArgs args("eval_mod",
                                 "Scores checkpoints on a world's held-out sets: understanding accuracy per task, "
                                 "POPE, CHAIR, parameters, decode speed.");
    const mod::train::EvalOptions defaults;
    args.add("model", "", "model folders, comma-separated: one table column each (required)");
    args.add("data", "data/world", "world folder made by make_world (its test/ sets are scored)");
    args.add("limit", "200", "first N samples of each set; 0 = all");
    args.add("out", "eval.json", "JSON file for the results; empty = none");
    args.add("answers", "", "JSON-lines file of every answer (question, truth, answer, correct); empty = none");
    args.add("answer_tokens", std::to_string(defaults.answer_tokens), "max new tokens of an answer to a question (VQA, POPE)");
    args.add("caption_tokens", std::to_string(defaults.caption_tokens), "max new tokens of a caption (CHAIR)");
    args.add("threads", "0", "CPU threads (0: all cores)");
    args.add("device", "cpu", "cpu, cuda or cuda:N: where the models run");
    try {
        if (!args.parse(argc, argv)) {
            std::fputs(args.help().c_str(), stdout);
            return 0;
        }
        const int64_t threads = args.get_int("threads", 0, 4096);
        if (threads > 0) omp_set_num_threads(static_cast<int>(threads));
        const std::vector<std::string> models = args.get_list("model");
        if (models.empty()) throw mod::data::ArgError("model= is required: one or more model folders, comma-separated");
        mod::train::EvalOptions options;
        options.limit = args.get_int("limit", 0, int64_t{1} << 40);
        options.answer_tokens = args.get_int("answer_tokens", 1, 4096);
        options.caption_tokens = args.get_int("caption_tokens", 1, 4096);
        const mod::Device device = mod::train::parse_device_arg(args.get("device"), "eval_mod");
        const std::string data = args.get("data");
        const std::string out = args.get("out");
        const bool tty = ::isatty(STDERR_FILENO) != 0;

        std::vector<mod::train::EvalResult> results;
        for (const std::string& dir : models) {
            const mod::train::LoadedModel loaded = mod::train::load_model(mod::train::resolve_model_dir(dir));
            loaded.model->to(device);
            const auto start = std::chrono::steady_clock::now();
            options.on_progress = [&](const std::string& set, int64_t done, int64_t total) {
                print_progress(dir, set, done, total, tty, start);
            };
            results.push_back(mod::train::evaluate(*loaded.model, loaded.tokenizer, data, options, dir));
        }
        std::fputs(mod::train::format_table(results).c_str(), stdout);
        if (!out.empty()) {
            nlohmann::ordered_json j;
            j["data"] = data;
            j["limit"] = options.limit;
            j["models"] = nlohmann::ordered_json::array();
            for (const auto& r : results) j["models"].push_back(r.to_json());
            mod::write_file_atomic(out, j.dump(2) + "\n");
            std::printf("eval_mod: wrote %s\n", out.c_str());
        }
        if (const std::string answers = args.get("answers"); !answers.empty()) {
            std::string lines;
            for (const auto& r : results) lines += mod::train::answers_jsonl(r);
            mod::write_file_atomic(answers, lines);
            std::printf("eval_mod: wrote %s\n", answers.c_str());
        }
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "eval_mod: %s\n", e.what());
    }
    return 1;
}
