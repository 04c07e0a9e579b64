// Throughput of the data layer, with a plain wall-clock timer:
//   - tokenizer encoding on the built-in world (tokens/s, MB/s);
//   - indexing a generated LLaVA file of `records` text conversations (MB/s): the array scan alone,
//     and the scan with every sample parsed and checked (what IndexedSamples does at start), beside
//     load_conversations, and the memory each keeps;
//   - the loader (samples/s with PNG decoding, preprocessing, templating, labels and padding) over
//     samples held in memory and over samples read from the files on demand, on the generated file
//     (text only: the cost of reading again shows most) and on the world (with images).
// Index timings are medians of `repeats` runs. Writes a world to `world=` first when it has no
// meta.json, and the generated file into the world folder when it is missing.
//   bench_data world=/tmp/bench-world images=2000 batch_size=16 records=200000
#include "data/args.h"
#include "data/chat_template.h"
#include "data/conversation.h"
#include "data/errors.h"
#include "data/indexed_samples.h"
#include "data/json_array_scan.h"
#include "data/loader.h"
#include "data/world.h"
#include "text/train_bpe.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>

namespace {

using namespace mod;

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The median wall time of `repeats` calls of f.
double median_seconds(int64_t repeats, const std::function<void()>& f) {
    std::vector<double> times;
    for (int64_t r = 0; r < repeats; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        f();
        times.push_back(seconds_since(t0));
    }
    std::sort(times.begin(), times.end());
    return times[times.size() / 2];
}

// A LLaVA file of text-only conversations of one to three turns, with the strings a scanner can
// trip on (escaped quotes, brackets, backslashes, unicode).
void write_records(const std::string& path, int64_t records) {
    std::ofstream out(path, std::ios::binary);
    out << "[\n";
    for (int64_t i = 0; i < records; ++i) {
        nlohmann::json conversation = nlohmann::json::array();
        for (int64_t turn = 0; turn <= i % 3; ++turn) {
            const std::string question = "What does \"shape [" + std::to_string(i) + "]\" {look} like?";
            const std::string answer = "A red circle \\ at (" + std::to_string(turn) + ", 2), caf\u00e9.";
            conversation.push_back({{"from", "human"}, {"value", question}});
            conversation.push_back({{"from", "gpt"}, {"value", answer}});
        }
        const nlohmann::json record = {{"id", "gen-" + std::to_string(i)}, {"conversations", conversation}};
        out << record.dump() << (i + 1 < records ? ",\n" : "\n");
    }
    out << "]\n";
}

// The heap bytes of loaded samples (strings and vectors, not the allocator's overhead): a lower bound.
size_t loaded_bytes(const std::vector<data::Sample>& samples) {
    size_t bytes = samples.capacity() * sizeof(data::Sample);
    for (const data::Sample& s : samples) {
        bytes += s.id.capacity() + s.image.capacity();
        for (const auto* list : {&s.messages, &s.rejected}) {
            bytes += list->capacity() * sizeof(data::Message);
            for (const data::Message& m : *list) bytes += m.value.capacity();
        }
    }
    return bytes;
}

struct LoaderRun {
    int64_t rows = 0;
    int64_t positions = 0;
    double secs = 0;
};

// A loader consumed as fast as it comes, over `epochs` epochs.
LoaderRun run_loader(data::Loader& loader, int64_t epochs) {
    LoaderRun run;
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t e = 0; e < epochs; ++e) {
        while (std::optional<data::Batch> b = loader.next()) {
            run.rows += b->B;
            for (int64_t len : b->lengths) run.positions += len;
        }
    }
    run.secs = seconds_since(t0);
    return run;
}

void bench_index(const std::string& path, int64_t repeats) {
    const double mb = static_cast<double>(std::filesystem::file_size(path)) / 1e6;
    size_t elements = 0;
    const double scan = median_seconds(repeats, [&] {
        elements = 0;
        data::scan_json_array(path, "bench_data", [&](const data::JsonElement&) { ++elements; });
    });
    size_t index_bytes = 0;
    const double indexed = median_seconds(repeats, [&] {
        const data::IndexedSamples samples({path}, data::SampleKind::conversation, {});
        index_bytes = samples.index_bytes();
    });
    // Reading every sample back, in a shuffled order as the loader does: pread, parse and check.
    const data::IndexedSamples samples({path}, data::SampleKind::conversation, {});
    std::vector<size_t> order(samples.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), std::mt19937_64(1));
    const double read_back = median_seconds(repeats, [&] {
        for (size_t i : order) samples.get(i);
    });
    size_t loaded = 0;
    const double load = median_seconds(repeats, [&] { loaded = loaded_bytes(data::load_conversations({path}, {})); });
    std::printf("index: %zu records, %.1f MB: scan %.3f s (%.0f MB/s); scan+parse+check %.3f s (%.1f MB/s, %.0f records/s); "
                "load_conversations %.3f s\n",
                elements, mb, scan, mb / scan, indexed, mb / indexed, elements / indexed, load);
    std::printf("IndexedSamples::get: %.2f us a sample (shuffled order)\n", read_back / elements * 1e6);
    std::printf("memory: index %.2f MB (%.0f B/sample) vs loaded samples >= %.2f MB (%.0f B/sample)\n", index_bytes / 1e6,
                static_cast<double>(index_bytes) / elements, loaded / 1e6, static_cast<double>(loaded) / elements);
}

// One loader over samples in memory and one over the files, `epochs` each.
void bench_loaders(const char* name, const std::vector<std::string>& files, const text::Tokenizer& tok,
                   const data::LoaderConfig& config, int64_t epochs) {
    data::Loader in_memory(data::load_conversations(files, {}), tok, config);
    const LoaderRun memory = run_loader(in_memory, epochs);
    data::Loader indexed(std::make_unique<data::IndexedSamples>(files, data::SampleKind::conversation, data::LoadOptions{}), tok,
                         config);
    const LoaderRun streamed = run_loader(indexed, epochs);
    std::printf("loader (%s): %lld samples (%lld epochs, batch %lld, P=%lld, S=%d): in memory %.0f samples/s (%.0f positions/s), "
                "indexed %.0f samples/s\n",
                name, static_cast<long long>(memory.rows), static_cast<long long>(epochs),
                static_cast<long long>(config.batch_size), static_cast<long long>(config.sequence.image_tokens), config.image.size,
                memory.rows / memory.secs, memory.positions / memory.secs, streamed.rows / streamed.secs);
}

}  // namespace

int main(int argc, char** argv) {
    data::KeyValueArgs args("bench_data", "Measures tokenizer, indexing and loader throughput.");
    args.add("world", "/tmp/llavamod-bench-world", "world folder (written first if it has no meta.json)");
    args.add("images", "2000", "training scenes when the world is written");
    args.add("vocab_size", "1024", "tokenizer vocabulary size");
    args.add("batch_size", "16", "loader batch size");
    args.add("image_tokens", "16", "P, positions per image");
    args.add("image_size", "64", "S, preprocessed image side");
    args.add("epochs", "2", "loader epochs to time on the world");
    args.add("records", "200000", "records of the generated file (written once into the world folder)");
    args.add("repeats", "3", "runs of each index timing (the median is shown)");
    try {
        if (!args.parse(argc, argv)) {
            std::fputs(args.help().c_str(), stdout);
            return 0;
        }
        const std::string world = args.get("world");
        if (!std::filesystem::exists(std::filesystem::path(world) / "meta.json")) {
            data::WorldConfig w;
            w.out = world;
            w.images = args.get_int("images");
            const auto t0 = std::chrono::steady_clock::now();
            data::write_world(w);
            std::printf("make_world: %lld images in %.2f s\n", static_cast<long long>(w.images), seconds_since(t0));
        }
        const std::vector<std::string> files = {world + "/train/general.json", world + "/train/multitask.json"};
        auto t0 = std::chrono::steady_clock::now();
        const std::vector<data::Sample> samples = data::load_conversations(files, {});
        std::printf("load_conversations: %zu samples in %.3f s\n", samples.size(), seconds_since(t0));

        // Tokenizer: train on the rendered conversations, then time encoding them.
        const data::ChatTemplate chat;
        std::vector<std::string> corpus;
        for (const data::Sample& s : samples) corpus.push_back(data::apply_chat_template(s.messages, chat).text);
        text::BpeTrainConfig tc;
        tc.vocab_size = static_cast<int>(args.get_int("vocab_size"));
        text::WordCounter counter(tc);
        for (const std::string& t : corpus) counter.add(t);
        const text::Tokenizer tok = text::train_bpe(counter, tc);
        size_t bytes = 0, tokens = 0;
        t0 = std::chrono::steady_clock::now();
        for (const std::string& t : corpus) {
            tokens += tok.encode(t).size();
            bytes += t.size();
        }
        const double secs = seconds_since(t0);
        std::printf("tokenizer: vocab %d, %zu texts, %zu bytes -> %zu tokens in %.3f s: %.0f tokens/s, %.1f MB/s\n",
                    tok.vocab_size(), corpus.size(), bytes, tokens, secs, tokens / secs, bytes / secs / 1e6);

        // Indexing a large file.
        const int64_t records = args.get_int("records", 1, int64_t{1} << 31);
        const std::string generated = world + "/generated_" + std::to_string(records) + ".json";
        if (!std::filesystem::exists(generated)) write_records(generated, records);
        bench_index(generated, args.get_int("repeats", 1, 100));

        // Loaders: everything the trainer gets.
        data::LoaderConfig lc;
        lc.batch_size = args.get_int("batch_size");
        lc.sequence.image_tokens = args.get_int("image_tokens");
        lc.image.size = static_cast<int>(args.get_int("image_size"));
        bench_loaders("generated, text", {generated}, tok, lc, 1);
        bench_loaders("world, images", files, tok, lc, args.get_int("epochs"));
        return 0;
    } catch (const data::DataError& e) {
        std::fprintf(stderr, "%s\n", e.what());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "[bench_data] %s\n", e.what());
    }
    return 1;
}
