// train_tokenizer: trains a byte-level BPE tokenizer on LLaVA JSON files and writes tokenizer.json.
// The corpus is each sample rendered through the chat template, i.e. exactly the text the model
// sees, so the template's words get tokens of their own.
//   train_tokenizer data=world/train/general.json,world/train/multitask.json out=world/tokenizer.json
#include "data/args.h"
#include "data/errors.h"
#include "data/tokenizer_corpus.h"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>

int main(int argc, char** argv) {
    using namespace mod;
    data::KeyValueArgs args("train_tokenizer", "Trains a byte-level BPE tokenizer (Qwen2 split regex) on LLaVA JSON files.");
    const text::BpeTrainConfig d;
    args.add("data", "", "comma-separated conversation and/or preference JSON files (required)");
    args.add("out", "tokenizer.json", "where to write the Hugging Face tokenizer.json");
    args.add("vocab_size", std::to_string(d.vocab_size), "vocabulary size in all (bytes + merges + 3 special tokens)");
    args.add("min_frequency", std::to_string(d.min_frequency), "stop merging when the best pair is rarer than this");
    args.add("min_per_sample", std::to_string(data::kDefaultMinMergesPerSample),
             "stop merging when the best pair occurs fewer times than this per sample (one in 250: a rendered "
             "text's random letters stay one token a character)");
    try {
        if (!args.parse(argc, argv)) {
            std::fputs(args.help().c_str(), stdout);
            return 0;
        }
        const std::vector<std::string> files = args.get_list("data");
        if (files.empty()) throw data::ArgError("[train_tokenizer] data= is required (see --help)");
        text::BpeTrainConfig config;
        config.vocab_size = static_cast<int>(args.get_int("vocab_size", 259, 1 << 24));
        config.min_frequency = args.get_int("min_frequency", 1, INT64_MAX);

        const auto t0 = std::chrono::steady_clock::now();
        data::CorpusStats stats;
        const text::Tokenizer tok =
            data::train_tokenizer_on(files, config, &stats, args.get_double("min_per_sample", 0.0, 1e6));
        tok.save(args.get("out"));
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::printf("train_tokenizer: %lld samples, %zu distinct pre-tokens -> %d tokens in %.2f s, wrote %s\n",
                    static_cast<long long>(stats.samples), stats.distinct_pretokens, tok.vocab_size(), secs,
                    args.get("out").c_str());
        return 0;
    } catch (const data::DataError& e) {
        std::fprintf(stderr, "%s\n", e.what());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "[train_tokenizer] %s\n", e.what());
    }
    return 1;
}
