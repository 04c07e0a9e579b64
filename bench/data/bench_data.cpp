// Throughput of the data layer on the built-in world: tokenizer encoding (tokens/s, MB/s) and the
// loader (samples/s with PNG decoding, preprocessing, templating, labels and padding), with a
// plain wall-clock timer. Writes a world to `world=` first when it has no meta.json.
//   bench_data world=/tmp/bench-world images=2000 batch_size=16
#include "data/args.h"
#include "data/chat_template.h"
#include "data/conversation.h"
#include "data/errors.h"
#include "data/loader.h"
#include "data/world.h"
#include "text/train_bpe.h"

#include <chrono>
#include <cstdio>
#include <filesystem>

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
    using namespace mod;
    data::KeyValueArgs args("bench_data", "Measures tokenizer and loader throughput on the built-in world.");
    args.add("world", "/tmp/llavamod-bench-world", "world folder (written first if it has no meta.json)");
    args.add("images", "2000", "training scenes when the world is written");
    args.add("vocab_size", "1024", "tokenizer vocabulary size");
    args.add("batch_size", "16", "loader batch size");
    args.add("image_tokens", "16", "P, positions per image");
    args.add("image_size", "64", "S, preprocessed image side");
    args.add("epochs", "2", "loader epochs to time");
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
        double secs = seconds_since(t0);
        std::printf("tokenizer: vocab %d, %zu texts, %zu bytes -> %zu tokens in %.3f s: %.0f tokens/s, %.1f MB/s\n",
                    tok.vocab_size(), corpus.size(), bytes, tokens, secs, tokens / secs, bytes / secs / 1e6);

        // Loader: everything the trainer gets, consumed as fast as it comes.
        data::LoaderConfig lc;
        lc.batch_size = args.get_int("batch_size");
        lc.sequence.image_tokens = args.get_int("image_tokens");
        lc.image.size = static_cast<int>(args.get_int("image_size"));
        data::Loader loader(samples, tok, lc);
        const int64_t epochs = args.get_int("epochs");
        int64_t rows = 0, positions = 0;
        t0 = std::chrono::steady_clock::now();
        for (int64_t e = 0; e < epochs; ++e) {
            while (std::optional<data::Batch> b = loader.next()) {
                rows += b->B;
                for (int64_t len : b->lengths) positions += len;
            }
        }
        secs = seconds_since(t0);
        std::printf("loader: %lld samples (%lld epochs, batch %lld, P=%lld, S=%d) in %.3f s: %.0f samples/s, %.0f positions/s\n",
                    static_cast<long long>(rows), static_cast<long long>(epochs), static_cast<long long>(lc.batch_size),
                    static_cast<long long>(lc.sequence.image_tokens), lc.image.size, secs, rows / secs, positions / secs);
        return 0;
    } catch (const data::DataError& e) {
        std::fprintf(stderr, "%s\n", e.what());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "[bench_data] %s\n", e.what());
    }
    return 1;
}
