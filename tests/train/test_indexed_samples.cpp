// Samples read on demand from indexed JSON files: the same samples, errors and skip counts as
// loading the files whole, 16 bytes of index a sample, and a loader over them that hands out exactly
// the batches of a loader over the loaded samples, for any seed and resume point.
#include "core/error.h"
#include "data/errors.h"
#include "data/indexed_samples.h"
#include "data/loader.h"
#include "data/world.h"
#include "bytes_tokenizer.h"
#include "temp_dir.h"

#include <gtest/gtest.h>

#include <fstream>

namespace {

using namespace mod::data;
using mod::test::bytes_tokenizer;
using mod::test::TempDir;
using mod::text::Tokenizer;

// A small world, written once for the whole test program.
const std::string& world() {
    static TempDir dir;
    static const bool written = [] {
        WorldConfig w;
        w.out = dir.str();
        w.images = 40;
        w.test_images = 0;
        w.preference_pairs = 30;
        write_world(w);
        return true;
    }();
    (void)written;
    static const std::string path = dir.str();
    return path;
}

std::vector<std::string> conversation_files() { return {world() + "/train/general.json", world() + "/train/multitask.json"}; }

void expect_same_messages(const std::vector<Message>& a, const std::vector<Message>& b) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(a[i].role, b[i].role);
        EXPECT_EQ(a[i].value, b[i].value);
    }
}

void expect_same_samples(const SampleSource& indexed, const std::vector<Sample>& loaded) {
    ASSERT_EQ(indexed.size(), loaded.size());
    for (size_t i = 0; i < loaded.size(); ++i) {
        const Sample s = indexed.get(i);
        EXPECT_EQ(s.id, loaded[i].id);
        EXPECT_EQ(s.image, loaded[i].image);
        expect_same_messages(s.messages, loaded[i].messages);
        expect_same_messages(s.rejected, loaded[i].rejected);
    }
}

std::string write(const TempDir& dir, const std::string& name, const std::string& text) {
    std::ofstream(dir.str(name), std::ios::binary) << text;
    return dir.str(name);
}

TEST(IndexedSamples, SameSamplesAsLoadingWhole) {
    const IndexedSamples conversations(conversation_files(), SampleKind::conversation, {});
    expect_same_samples(conversations, load_conversations(conversation_files(), {}));
    EXPECT_FALSE(conversations.preference());
    EXPECT_TRUE(conversations.any_image());

    const std::vector<std::string> pairs_file = {world() + "/train/preference.json"};
    const IndexedSamples pairs(pairs_file, SampleKind::preference, {});
    expect_same_samples(pairs, load_preferences(pairs_file, {}));
    EXPECT_TRUE(pairs.preference());
}

TEST(IndexedSamples, SixteenBytesASample) {
    const IndexedSamples samples(conversation_files(), SampleKind::conversation, {});
    ASSERT_GT(samples.size(), 100u);
    EXPECT_EQ(samples.index_bytes(), 16 * samples.size());
}

// Bad samples are left out as load_conversations leaves them out (so positions, and with them the
// shuffled order, are the same); a sample without "id" keeps the name of its place in the file.
TEST(IndexedSamples, SkipBadAndSamplesWithoutId) {
    TempDir dir;
    const std::string good = R"({"id": "a", "conversations": [{"from": "human", "value": "Q"}, {"from": "gpt", "value": "A"}]})";
    const std::string no_id = R"({"conversations": [{"from": "human", "value": "Q \"]\""}, {"from": "gpt", "value": "B"}]})";
    const std::string bad = R"({"id": "b", "conversations": [{"from": "bot", "value": "x"}]})";
    const std::vector<std::string> files = {write(dir, "one.json", "[" + good + ",\n" + bad + ",\n" + no_id + "]"),
                                            write(dir, "empty.json", "[]"),
                                            write(dir, "two.json", "[" + bad + ", " + no_id + ", " + good + "]")};
    LoadOptions options;
    options.skip_bad = true;
    LoadReport indexed_report, loaded_report;
    const IndexedSamples samples(files, SampleKind::conversation, options, &indexed_report);
    const std::vector<Sample> loaded = load_conversations(files, options, &loaded_report);
    expect_same_samples(samples, loaded);
    EXPECT_EQ(samples.get(1).id, "#2");
    EXPECT_EQ(samples.get(2).id, "#1");
    EXPECT_EQ(indexed_report.skipped, 2);
    EXPECT_EQ(indexed_report.loaded, loaded_report.loaded);
    EXPECT_EQ(indexed_report.first_errors, loaded_report.first_errors);
    EXPECT_FALSE(samples.any_image());
}

TEST(IndexedSamples, ErrorsAreTheLoadersErrors) {
    TempDir dir;
    for (const std::string text : {R"([{"id": "b", "conversations": [{"from": "bot", "value": "x"}]}])",
                                   "[\n  {\"id\": \"a\",\n   \"conversations\": [}\n]", "[{\"id\": \"a\"", "{}"}) {
        const std::string path = write(dir, "bad.json", text);
        std::string indexed_error, loaded_error;
        try {
            IndexedSamples({path}, SampleKind::conversation, {});
        } catch (const JsonError& e) {
            indexed_error = e.what();
        }
        try {
            load_conversations({path}, {});
        } catch (const JsonError& e) {
            loaded_error = e.what();
        }
        EXPECT_NE(indexed_error.find(path), std::string::npos) << indexed_error;
        EXPECT_EQ(indexed_error, loaded_error);
    }
}

TEST(IndexedSamples, FileChangedInPlaceIsAnError) {
    TempDir dir;
    const std::string sample = R"({"id": "a", "conversations": [{"from": "human", "value": "Q"}, {"from": "gpt", "value": "A"}]})";
    const std::string path = write(dir, "d.json", "[" + sample + "]");
    const IndexedSamples samples({path}, SampleKind::conversation, {});
    EXPECT_EQ(samples.get(0).id, "a");
    std::ofstream(path, std::ios::binary | std::ios::in | std::ios::out) << "[ " << sample << "]";  // same inode, one byte longer
    try {
        samples.get(0);
        FAIL() << "no error";
    } catch (const mod::IOError& e) {
        EXPECT_NE(std::string(e.what()).find(path + ": changed since it was indexed"), std::string::npos) << e.what();
    }
}

void expect_same_batch(const Batch& a, const Batch& b) {
    EXPECT_EQ(a.B, b.B);
    EXPECT_EQ(a.T, b.T);
    EXPECT_EQ(a.S, b.S);
    EXPECT_EQ(a.P, b.P);
    EXPECT_EQ(a.preference, b.preference);
    EXPECT_EQ(a.ids, b.ids);
    EXPECT_EQ(a.labels, b.labels);
    EXPECT_EQ(a.lengths, b.lengths);
    EXPECT_EQ(a.image_blocks, b.image_blocks);
    EXPECT_EQ(a.pixels, b.pixels);
    EXPECT_EQ(a.sample_ids, b.sample_ids);
    EXPECT_EQ(a.epoch, b.epoch);
    EXPECT_EQ(a.end_position, b.end_position);
}

// Two epochs (and the end-of-epoch markers) from both loaders, batch by batch.
void expect_same_batches(const std::vector<std::string>& files, SampleKind kind, const LoaderConfig& config) {
    const Tokenizer tok = bytes_tokenizer();
    Loader indexed(std::make_unique<IndexedSamples>(files, kind, LoadOptions{}), tok, config);
    Loader loaded(kind == SampleKind::preference ? load_preferences(files, {}) : load_conversations(files, {}), tok, config);
    EXPECT_EQ(indexed.size(), loaded.size());
    int64_t batches = 0;
    for (int epoch = 0; epoch < 2; ++epoch) {
        for (;;) {
            const std::optional<Batch> a = indexed.next(), b = loaded.next();
            ASSERT_EQ(a.has_value(), b.has_value());
            if (!a) break;
            expect_same_batch(*a, *b);
            ++batches;
        }
    }
    EXPECT_GT(batches, 2);
}

TEST(IndexedSamples, LoaderGivesTheSameBatches) {
    LoaderConfig c;
    c.batch_size = 7;
    c.seed = 11;
    c.sequence.image_tokens = 4;
    c.image.size = 16;
    expect_same_batches(conversation_files(), SampleKind::conversation, c);
    c.shuffle = false;
    c.drop_last = true;
    expect_same_batches(conversation_files(), SampleKind::conversation, c);
    c.shuffle = true;
    c.seed = 12;
    c.batch_size = 4;
    expect_same_batches({world() + "/train/preference.json"}, SampleKind::preference, c);
    c.group_by_length = 3;
    expect_same_batches({world() + "/train/preference.json"}, SampleKind::preference, c);
    c.batch_size = 7;
    expect_same_batches(conversation_files(), SampleKind::conversation, c);
}

TEST(IndexedSamples, LoaderResumesAtTheSamePlace) {
    LoaderConfig c;
    c.batch_size = 5;
    c.seed = 3;
    c.drop_last = true;
    c.sequence.image_tokens = 4;
    c.image.size = 16;
    c.start_epoch = 1;
    c.start_position = 17;
    expect_same_batches(conversation_files(), SampleKind::conversation, c);
    c.group_by_length = 2;
    expect_same_batches(conversation_files(), SampleKind::conversation, c);
}

}  // namespace
