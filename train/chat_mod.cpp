// chat_mod: answers questions about one image with a trained model, streaming tokens as they come.
//   chat_mod model=runs/x image=path.png prompt="What color is the circle?"   one answer, then exit
//   chat_mod model=runs/x image=path.png                                      questions from stdin, one per line
// Without prompt= the conversation keeps its history: each question is asked after the previous
// turns (the whole prompt runs again each turn). Answers go to stdout; the speed goes to stderr.
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "core/runtime.h"
#include "data/args.h"
#include "data/conversation.h"
#include "data/errors.h"
#include "data/tasks.h"
#include "trainer/checkpoint.h"
#include "trainer/options.h"
#include "trainer/stages.h"
#include "text/utf8.h"
#include "trainer/generate.h"

namespace {

// Generates one answer, printing its text as the tokens come (the space the template puts before
// an answer is not printed), and returns the answer's text.
std::string answer(const mod::train::LoadedModel& loaded, const std::vector<mod::data::Message>& messages,
                   const mod::Tensor& pixels, mod::train::GenerateOptions options) {
    std::string text;
    options.on_token = [&](int64_t id) {
        std::string piece = mod::train::decode_ids(loaded.tokenizer, {id});
        if (text.empty()) piece.erase(0, std::min(piece.find_first_not_of(' '), piece.size()));
        text += piece;
        std::fputs(piece.c_str(), stdout);
        std::fflush(stdout);
    };
    const mod::train::GenerateResult r =
        mod::train::generate(*loaded.model, mod::train::prompt_ids(*loaded.model, messages, loaded.tokenizer), pixels,
                             options);
    std::fputc('\n', stdout);
    std::fflush(stdout);
    std::fprintf(stderr, "[%lld tokens%s, prompt %lld tokens in %.2f s, %.1f tokens/s]\n",
                 static_cast<long long>(r.ids.size()), r.stopped ? "" : ", max_new_tokens reached",
                 static_cast<long long>(r.prompt_tokens), r.prefill_seconds, r.tokens_per_second());
    // Byte-level tokens can end an answer inside a multi-byte character; the history is text the
    // tokenizer re-encodes, so such bytes become U+FFFD.
    return mod::text::replace_invalid_utf8(text);
}

}  // namespace

int main(int argc, char** argv) {
    mod::use_short_openmp_spin(argv);  // idle OpenMP threads spin briefly, then yield the core
    mod::data::KeyValueArgs args("chat_mod", "Answers questions about an image with a trained model (KV cache, streaming).");
    args.add("model", "", "model folder (required)");
    args.add("image", "", "PNG or JPEG file (required)");
    args.add("prompt", "", "one question: answer it and exit; empty = read questions from stdin, one per line");
    args.add("temperature", "0", "0 = greedy; > 0 samples from softmax(logits / temperature)");
    args.add("top_p", "1", "sample among the most probable tokens whose mass reaches top_p (0, 1]");
    args.add("seed", "0", "sampling seed: same seed, same answers");
    args.add("max_new_tokens", "128", "most tokens per answer");
    args.add("threads", "0", "CPU threads (0: all cores)");
    args.add("device", "cpu", "cpu, cuda or cuda:N: where the model runs");
    try {
        if (!args.parse(argc, argv)) {
            std::fputs(args.help().c_str(), stdout);
            return 0;
        }
        const int64_t threads = args.get_int("threads", 0, 4096);
        if (threads > 0) omp_set_num_threads(static_cast<int>(threads));
        if (args.get("model").empty()) throw mod::data::ArgError("model= is required: a model folder");
        if (args.get("image").empty()) throw mod::data::ArgError("image= is required: a PNG or JPEG file");
        const mod::Device device = mod::train::parse_device_arg(args.get("device"), "chat_mod");
        const mod::train::LoadedModel loaded = mod::train::load_model(mod::train::resolve_model_dir(args.get("model")));
        loaded.model->to(device);
        mod::train::GenerateOptions options = mod::train::default_options(*loaded.model, loaded.tokenizer);
        options.temperature = args.get_double("temperature", 0.0, 100.0);
        options.top_p = args.get_double("top_p", 0.0, 1.0);
        options.max_new_tokens = args.get_int("max_new_tokens", 1, 1 << 20);
        const uint64_t seed = args.get_u64("seed");
        const mod::Tensor pixels = mod::train::load_image_tensor(args.get("image"), loaded.model->config.vision);

        std::vector<mod::data::Message> messages;
        auto ask = [&](const std::string& question) {
            // The image goes with the first question, where the model's training data put it.
            const mod::models::MllmConfig& c = loaded.model->config;
            messages.push_back({mod::data::Role::human,
                                messages.empty() ? mod::data::with_image_placed(question, c.image_after_question, c.image_after_names)
                                                 : question});
            options.seed = seed + messages.size() / 2;  // a fresh random stream per turn, reproducible
            messages.push_back({mod::data::Role::gpt, answer(loaded, messages, pixels, options)});
        };
        if (!args.get("prompt").empty()) {
            ask(args.get("prompt"));
            return 0;
        }
        const bool interactive = ::isatty(STDIN_FILENO) != 0;
        std::string line;
        while (true) {
            if (interactive) {
                std::fputs("> ", stdout);
                std::fflush(stdout);
            }
            if (!std::getline(std::cin, line)) break;
            if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
            ask(line);
        }
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "chat_mod: %s\n", e.what());
    }
    return 1;
}
