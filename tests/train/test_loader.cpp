// The batching loader: labels cover exactly the answers and their <|endoftext|> (hand-written
// samples on a byte-level tokenizer without merges, so every expected id is one byte), right
// padding, <image> expansion, seeded shuffling, images, bad samples and skip_bad.
#include "data/errors.h"
#include "data/image_io.h"
#include "data/loader.h"
#include "data/world.h"
#include "bytes_tokenizer.h"
#include "temp_dir.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <set>

namespace {

using namespace mod::data;
using mod::test::bytes_tokenizer;
using mod::test::TempDir;
using mod::text::Tokenizer;

Sample sample(const std::string& id, const std::string& image, std::vector<Message> messages) {
    return Sample{id, image, std::move(messages), {}};
}

LoaderConfig small_config() {
    LoaderConfig c;
    c.batch_size = 2;
    c.shuffle = false;
    c.sequence.image_tokens = 3;
    c.sequence.chat.system = "S";
    c.image.size = 8;
    return c;
}

// The text of the labelled tokens, with -100 runs shown as "|".
std::string labelled_text(const Tokenizer& tok, const Batch& b, int64_t row) {
    std::string out;
    bool in_gap = true;
    for (int64_t t = 0; t < b.lengths[row]; ++t) {
        const int64_t l = b.labels[row * b.T + t];
        if (l == kIgnore) {
            if (!in_gap) out += "|";
            in_gap = true;
            continue;
        }
        EXPECT_EQ(l, b.ids[row * b.T + t]) << "labels are the ids themselves (unshifted)";
        out += tok.decode({static_cast<int32_t>(l)});
        in_gap = false;
    }
    return out;
}

std::string write_png_file(const TempDir& dir, const std::string& name, uint8_t value) {
    ImageRgb img(8, 8);
    for (uint8_t& v : img.pixels) v = value;
    write_png(dir.str(name), img);
    return dir.str(name);
}

TEST(Loader, LabelsCoverExactlyTheAnswers) {
    const Tokenizer tok = bytes_tokenizer();
    TempDir dir;
    const std::string png = write_png_file(dir, "a.png", 100);
    std::vector<Sample> samples = {
        sample("one", png, {{Role::human, "<image>\nHi"}, {Role::gpt, "ok"}}),
        sample("two", "", {{Role::human, "A?"}, {Role::gpt, "b"}, {Role::human, "C?"}, {Role::gpt, "dd"}}),
    };
    Loader loader(samples, tok, small_config());
    const std::optional<Batch> b = loader.next();
    ASSERT_TRUE(b);
    ASSERT_EQ(b->B, 2);

    // Row 0: "S USER: " <image>x3 "\nHi ASSISTANT:" " ok" <|endoftext|>.
    const std::string prompt0 = "S USER: ";
    const std::string rest0 = "\nHi ASSISTANT:";
    EXPECT_EQ(b->lengths[0], static_cast<int64_t>(prompt0.size() + 3 + rest0.size() + 3 + 1));
    EXPECT_EQ(b->image_blocks[0], 1);
    const int64_t first = static_cast<int64_t>(prompt0.size());
    for (int64_t t = 0; t < b->lengths[0]; ++t) EXPECT_EQ(b->ids[t] == 257, t >= first && t < first + 3) << t;
    for (int64_t k = 0; k < 3; ++k) EXPECT_EQ(b->labels[first + k], kIgnore);
    EXPECT_EQ(labelled_text(tok, *b, 0), " ok<|endoftext|>");
    // The labelled positions are exactly the last four.
    for (int64_t t = 0; t < b->lengths[0]; ++t) {
        EXPECT_EQ(b->labels[t] != kIgnore, t >= b->lengths[0] - 4) << t;
    }

    // Row 1: two turns, no image.
    EXPECT_EQ(b->image_blocks[1], 0);
    EXPECT_EQ(labelled_text(tok, *b, 1), " b<|endoftext|>| dd<|endoftext|>");
    const std::string text1 = "S USER: A? ASSISTANT: b<|endoftext|>USER: C? ASSISTANT: dd<|endoftext|>";
    EXPECT_EQ(tok.decode(std::vector<int32_t>(b->ids.begin() + b->T, b->ids.begin() + b->T + b->lengths[1])), text1);

    // Right padding: pad id and ignored labels after each row's length.
    for (int64_t r = 0; r < 2; ++r) {
        for (int64_t t = b->lengths[r]; t < b->T; ++t) {
            EXPECT_EQ(b->ids[r * b->T + t], 258);
            EXPECT_EQ(b->labels[r * b->T + t], kIgnore);
        }
    }
    EXPECT_EQ(b->T, std::max(b->lengths[0], b->lengths[1]));
    EXPECT_FALSE(loader.next());  // end of epoch
}

TEST(Loader, AnImageIsShownAtEachOfItsTags) {
    const Tokenizer tok = bytes_tokenizer();
    TempDir dir;
    const std::string png = write_png_file(dir, "a.png", 100);
    const std::vector<Sample> samples = {sample("two", png, {{Role::human, "<image>\nA<image>B"}, {Role::gpt, "ok"}}),
                                         sample("txt", "", {{Role::human, "Q"}, {Role::gpt, "A"}})};
    Loader loader(samples, tok, small_config());
    const Batch b = *loader.next();
    // "S USER: " <image>x3 "\nA" <image>x3 "B ASSISTANT:" ...
    const int64_t first = static_cast<int64_t>(std::string("S USER: ").size());
    EXPECT_EQ(b.image_blocks[0], 2);
    for (int64_t t = 0; t < b.lengths[0]; ++t) {
        const bool image = (t >= first && t < first + 3) || (t >= first + 5 && t < first + 8);
        EXPECT_EQ(b.ids[t] == 257, image) << t;
    }
    EXPECT_EQ(labelled_text(tok, b, 0), " ok<|endoftext|>");
    EXPECT_EQ(b.image_blocks[1], 0);
    // A cut inside the second block is named, as inside the first.
    SequenceConfig cut = small_config().sequence;
    cut.max_len = first + 7;
    try {
        build_sequence(samples[0].messages, tok, cut);
        ADD_FAILURE() << "a cut image block was accepted";
    } catch (const DataError& e) {
        EXPECT_EQ(std::string(e.what()), "[build_sequence] an image block ends after max_len=" + std::to_string(first + 7));
    }
}

TEST(Loader, PixelsArePreprocessedImagesAndZerosForText) {
    const Tokenizer tok = bytes_tokenizer();
    TempDir dir;
    const std::string png = write_png_file(dir, "a.png", 100);
    Loader loader({sample("img", png, {{Role::human, "<image>\nQ"}, {Role::gpt, "A"}}),
                   sample("txt", "", {{Role::human, "Q"}, {Role::gpt, "A"}})},
                  tok, small_config());
    const Batch b = *loader.next();
    std::vector<float> expected(3 * 64);
    preprocess_image(read_image(png), small_config().image, expected.data());
    EXPECT_EQ(std::vector<float>(b.pixels.begin(), b.pixels.begin() + 192), expected);
    EXPECT_EQ(std::vector<float>(b.pixels.begin() + 192, b.pixels.end()), std::vector<float>(192, 0.0f));
}

std::vector<std::string> epoch_ids(Loader& loader) {
    std::vector<std::string> ids;
    while (std::optional<Batch> b = loader.next()) ids.insert(ids.end(), b->sample_ids.begin(), b->sample_ids.end());
    return ids;
}

TEST(Loader, ShufflesWithTheSeedEveryEpoch) {
    const Tokenizer tok = bytes_tokenizer();
    std::vector<Sample> samples;
    for (int i = 0; i < 20; ++i) samples.push_back(sample(std::to_string(i), "", {{Role::human, "Q"}, {Role::gpt, "A"}}));
    LoaderConfig c = small_config();
    c.shuffle = true;
    c.batch_size = 3;
    c.seed = 5;
    Loader a(samples, tok, c), b(samples, tok, c);
    c.seed = 6;
    Loader other(samples, tok, c);
    const std::vector<std::string> a1 = epoch_ids(a), a2 = epoch_ids(a);
    EXPECT_EQ(a1, epoch_ids(b));
    EXPECT_NE(a1, epoch_ids(other));
    EXPECT_NE(a1, a2);  // reshuffled each epoch
    EXPECT_EQ(std::set<std::string>(a1.begin(), a1.end()).size(), 20u);  // every sample once
    EXPECT_EQ(a2.size(), 20u);
}

// Samples whose sequences all differ in length: sample i answers with 4i + 1 characters.
std::vector<Sample> samples_of_every_length(int n) {
    std::vector<Sample> samples;
    for (int i = 0; i < n; ++i) {
        samples.push_back(sample(std::to_string(i), "", {{Role::human, "Q"}, {Role::gpt, std::string(4 * i + 1, 'a')}}));
    }
    return samples;
}

std::vector<Batch> epoch_batches(Loader& loader) {
    std::vector<Batch> batches;
    while (std::optional<Batch> b = loader.next()) batches.push_back(std::move(*b));
    return batches;
}

// Shuffled batches of 4 rows, grouped in windows of `group` batches (0: not grouped).
LoaderConfig grouped_config(uint64_t seed, int64_t group) {
    LoaderConfig c = small_config();
    c.shuffle = true;
    c.seed = seed;
    c.batch_size = 4;
    c.group_by_length = group;
    return c;
}

int64_t padded_positions(const std::vector<Batch>& batches) {
    int64_t n = 0;
    for (const Batch& b : batches) n += b.B * b.T;
    return n;
}

TEST(Loader, GroupByLengthBatchesNeighboursInLengthAndKeepsEverySample) {
    const Tokenizer tok = bytes_tokenizer();
    const std::vector<Sample> samples = samples_of_every_length(50);
    Loader plain(samples, tok, grouped_config(9, 0));
    const LoaderConfig c = grouped_config(9, 4);  // windows of 16 samples: 16, 16, 16, then 2
    Loader grouped(samples, tok, c), again(samples, tok, c);
    const std::vector<Batch> p = epoch_batches(plain), g1 = epoch_batches(grouped), g2 = epoch_batches(grouped);

    ASSERT_EQ(g1.size(), 13u);
    std::vector<std::vector<int64_t>> batch_longest_by_window(4);
    std::set<std::string> seen;
    for (size_t k = 0; k < g1.size(); ++k) {
        const Batch& b = g1[k];
        seen.insert(b.sample_ids.begin(), b.sample_ids.end());
        if (k == 12) {
            EXPECT_EQ(b.B, 2) << "the short last batch stays last";
            continue;
        }
        const auto [shortest, longest] = std::minmax_element(b.lengths.begin(), b.lengths.end());
        batch_longest_by_window[k / 4].push_back(*longest);
        // The batches are consecutive runs of the window sorted by length x (1 + u), u < 0.3: of
        // two batches of a window, every length of one is below 1.3 x every length of the other.
        for (size_t j = (k / 4) * 4; j < (k / 4) * 4 + 4; ++j) {
            if (j == k) continue;
            const auto [o_shortest, o_longest] = std::minmax_element(g1[j].lengths.begin(), g1[j].lengths.end());
            EXPECT_TRUE(10 * *o_longest < 13 * *shortest || 10 * *longest < 13 * *o_shortest) << k << " " << j;
        }
    }
    EXPECT_EQ(seen.size(), 50u);
    // The batches of a window come in a shuffled order, not longest first in every window.
    bool some_window_unsorted = false;
    for (size_t w = 0; w < 3; ++w) {
        const std::vector<int64_t>& f = batch_longest_by_window[w];
        some_window_unsorted |= !std::is_sorted(f.rbegin(), f.rend());
    }
    EXPECT_TRUE(some_window_unsorted);
    // Much less padding than the plain shuffle of the same samples.
    EXPECT_LT(padded_positions(g1) * 10, padded_positions(p) * 8) << padded_positions(g1) << " " << padded_positions(p);
    // Seeded, and reshuffled every epoch.
    std::vector<std::string> ids1, ids_again, ids2;
    for (const Batch& b : g1) ids1.insert(ids1.end(), b.sample_ids.begin(), b.sample_ids.end());
    for (const Batch& b : epoch_batches(again)) ids_again.insert(ids_again.end(), b.sample_ids.begin(), b.sample_ids.end());
    for (const Batch& b : g2) ids2.insert(ids2.end(), b.sample_ids.begin(), b.sample_ids.end());
    EXPECT_EQ(ids1, ids_again);
    EXPECT_NE(ids1, ids2);
}

TEST(Loader, GroupByLengthResumesAtTheSameBatch) {
    const Tokenizer tok = bytes_tokenizer();
    const std::vector<Sample> samples = samples_of_every_length(40);
    LoaderConfig c = grouped_config(4, 3);
    Loader whole(samples, tok, c);
    const std::vector<Batch> all = epoch_batches(whole);
    c.start_position = all[4].end_position;
    Loader resumed(samples, tok, c);
    const std::vector<Batch> rest = epoch_batches(resumed);
    ASSERT_EQ(rest.size(), all.size() - 5);
    for (size_t k = 0; k < rest.size(); ++k) EXPECT_EQ(rest[k].sample_ids, all[k + 5].sample_ids) << k;
}

// A sample whose text cannot be built: reported before the first batch, since grouping measures
// every sample first; with skip_bad put last, so that every batch before it is full and grouped.
TEST(Loader, GroupByLengthReportsABadSampleFirstOrSkipsItLast) {
    const Tokenizer tok = bytes_tokenizer();
    std::vector<Sample> samples = samples_of_every_length(12);
    samples[5].messages = {{Role::human, "no answer"}};
    LoaderConfig c = small_config();
    c.shuffle = true;
    c.batch_size = 2;
    c.group_by_length = 2;
    c.skip_bad = true;
    Loader loader(samples, tok, c);
    const std::vector<Batch> batches = epoch_batches(loader);
    ASSERT_EQ(batches.size(), 6u);  // 11 good samples: 5 full batches, then the last good one
    std::set<std::string> ids;
    for (size_t k = 0; k < batches.size(); ++k) {
        EXPECT_EQ(batches[k].B, k < 5 ? 2 : 1) << k;
        ids.insert(batches[k].sample_ids.begin(), batches[k].sample_ids.end());
    }
    EXPECT_EQ(ids.size(), 11u);
    EXPECT_EQ(ids.count("5"), 0u);
    EXPECT_EQ(loader.skipped(), 1);
    EXPECT_NE(loader.last_skip_reason().find("sample \"5\""), std::string::npos) << loader.last_skip_reason();
    c.skip_bad = false;
    Loader strict(samples, tok, c);
    try {
        strict.next();
        FAIL() << "no error";
    } catch (const DataError& e) {
        EXPECT_EQ(std::string(e.what()), "[Loader] sample \"5\": [build_sequence] no answer token within max_len=512");
    }
    c.group_by_length = -1;
    EXPECT_THROW(Loader(samples, tok, c), DataError);
}

TEST(Loader, DropLastDropsTheShortBatch) {
    const Tokenizer tok = bytes_tokenizer();
    std::vector<Sample> samples;
    for (int i = 0; i < 5; ++i) samples.push_back(sample(std::to_string(i), "", {{Role::human, "Q"}, {Role::gpt, "A"}}));
    LoaderConfig c = small_config();
    c.drop_last = true;
    Loader loader(samples, tok, c);
    EXPECT_EQ(epoch_ids(loader).size(), 4u);
}

TEST(Loader, MissingImageNamesSampleAndPath) {
    const Tokenizer tok = bytes_tokenizer();
    Loader loader({sample("s42", "/nowhere/x.png", {{Role::human, "<image>\nQ"}, {Role::gpt, "A"}})}, tok, small_config());
    try {
        loader.next();
        FAIL() << "no error";
    } catch (const ImageError& e) {
        EXPECT_NE(std::string(e.what()).find("[Loader] sample \"s42\" (image /nowhere/x.png): [read_image] /nowhere/x.png: cannot open"),
                  std::string::npos)
            << e.what();
    }
    EXPECT_THROW(loader.next(), ImageError);  // stays failed rather than hanging
}

TEST(Loader, UndecodableImageNamesSampleAndPath) {
    const Tokenizer tok = bytes_tokenizer();
    TempDir dir;
    std::ofstream(dir.str("bad.png")) << "\x89PNG\r\n\x1a\ngarbage";
    Loader loader({sample("s7", dir.str("bad.png"), {{Role::human, "<image>\nQ"}, {Role::gpt, "A"}})}, tok, small_config());
    try {
        loader.next();
        FAIL() << "no error";
    } catch (const ImageError& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("sample \"s7\""), std::string::npos) << what;
        EXPECT_NE(what.find(dir.str("bad.png") + ": bad PNG"), std::string::npos) << what;
    }
}

TEST(Loader, NoAnswerWithinMaxLenIsAnError) {
    const Tokenizer tok = bytes_tokenizer();
    LoaderConfig c = small_config();
    c.sequence.max_len = 10;
    Loader loader({sample("long", "", {{Role::human, "a long question"}, {Role::gpt, "A"}})}, tok, c);
    try {
        loader.next();
        FAIL() << "no error";
    } catch (const DataError& e) {
        EXPECT_EQ(std::string(e.what()), "[Loader] sample \"long\": [build_sequence] no answer token within max_len=10");
    }
}

TEST(Loader, SkipBadCountsAndKeepsBatchesFull) {
    const Tokenizer tok = bytes_tokenizer();
    TempDir dir;
    const std::string good = write_png_file(dir, "g.png", 50);
    std::ofstream(dir.str("bad.jpg")) << "\xff\xd8\xff garbage";
    std::vector<Sample> samples;
    for (int i = 0; i < 6; ++i) {
        const std::string image = i == 1 ? "/missing.png" : i == 4 ? dir.str("bad.jpg") : good;
        samples.push_back(sample("s" + std::to_string(i), image, {{Role::human, "<image>\nQ"}, {Role::gpt, "A"}}));
    }
    LoaderConfig c = small_config();
    c.skip_bad = true;
    Loader loader(samples, tok, c);
    std::vector<int64_t> sizes;
    std::vector<std::string> ids;
    while (std::optional<Batch> b = loader.next()) {
        sizes.push_back(b->B);
        ids.insert(ids.end(), b->sample_ids.begin(), b->sample_ids.end());
    }
    EXPECT_EQ(sizes, (std::vector<int64_t>{2, 2}));
    EXPECT_EQ(ids, (std::vector<std::string>{"s0", "s2", "s3", "s5"}));
    EXPECT_EQ(loader.skipped(), 2);
    EXPECT_NE(loader.last_skip_reason().find("sample \"s4\""), std::string::npos) << loader.last_skip_reason();
}

TEST(Loader, PreferenceBatchesHoldChosenThenRejected) {
    const Tokenizer tok = bytes_tokenizer();
    std::vector<Sample> pairs;
    for (int i = 0; i < 2; ++i) {
        Sample s = sample("p" + std::to_string(i), "", {{Role::human, "Q"}, {Role::gpt, "yes"}});
        s.rejected = {{Role::human, "Q"}, {Role::gpt, "no"}};
        pairs.push_back(s);
    }
    Loader loader(pairs, tok, small_config());
    const Batch b = *loader.next();
    EXPECT_TRUE(b.preference);
    ASSERT_EQ(b.B, 4);
    EXPECT_EQ(b.sample_ids, (std::vector<std::string>{"p0", "p1", "p0", "p1"}));
    EXPECT_EQ(labelled_text(tok, b, 0), " yes<|endoftext|>");
    EXPECT_EQ(labelled_text(tok, b, 3), " no<|endoftext|>");
}

TEST(Loader, MixingPairsAndConversationsIsAnError) {
    const Tokenizer tok = bytes_tokenizer();
    Sample pair = sample("p", "", {{Role::human, "Q"}, {Role::gpt, "A"}});
    pair.rejected = pair.messages;
    EXPECT_THROW(Loader({pair, sample("c", "", {{Role::human, "Q"}, {Role::gpt, "A"}})}, tok, small_config()), DataError);
}

TEST(Loader, FeedsTheWholeWorld) {
    TempDir dir;
    WorldConfig w;
    w.out = dir.str();
    w.images = 40;
    w.test_images = 0;
    w.preference_pairs = 10;
    write_world(w);
    const Tokenizer tok = bytes_tokenizer();
    LoaderConfig c;
    c.batch_size = 8;
    Loader loader(load_conversations({dir.str("train/general.json"), dir.str("train/multitask.json")}, {}), tok, c);
    int64_t rows = 0;
    while (std::optional<Batch> b = loader.next()) {
        rows += b->B;
        for (int64_t r = 0; r < b->B; ++r) EXPECT_EQ(b->image_blocks[r], 1);
    }
    EXPECT_EQ(rows, 120);
    EXPECT_EQ(loader.skipped(), 0);
    Loader prefs(load_preferences({dir.str("train/preference.json")}, {}), tok, c);
    EXPECT_EQ(prefs.next()->B, 16);
}

}  // namespace
