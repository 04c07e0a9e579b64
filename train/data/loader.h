// The batching loader: shuffles with a seed per epoch, builds sequences (sequence.h), decodes and
// preprocesses images, pads to batches (batch.h). One background thread does all of this, up to
// `prefetch` batches ahead, so the training step does not wait on disk or decoding. Samples come
// from a SampleSource (sample_source.h): in memory, or read from the JSON files on demand; the
// order, batches and errors depend only on the samples, not on where they are held. With
// group_by_length it orders each window of the shuffled order by sequence length, so that the
// rows of a batch are of similar length and pad little.
//
// Bad samples (a missing or undecodable image, text that does not fit): by default the error
// reaches next() naming the sample id and path; with skip_bad the sample is counted and replaced
// by the next one.
#pragma once

#include "data/batch.h"
#include "data/conversation.h"
#include "data/preprocess.h"
#include "data/sample_source.h"
#include "data/sequence.h"
#include "text/tokenizer.h"

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace mod::data {

struct LoaderConfig {
    int64_t batch_size = 8;  // rows, or pairs for preference samples (then 2 x batch_size rows)
    uint64_t seed = 0;
    bool shuffle = true;
    bool drop_last = false;  // drop an epoch's last, short batch
    bool skip_bad = false;
    int prefetch = 4;  // batches prepared ahead
    // > 0 (with shuffle): cut each epoch's shuffled order into windows of this many batches, sort
    // each window by sequence length (longest first; lengths within about 30% of each other may
    // come in either order) and shuffle the window's batches among themselves: long captions and
    // short answers no longer share a batch. The lengths are measured when the worker starts
    // (every sample read and tokenised once, before the first batch), and a sample whose text
    // cannot be built is reported then, or with skip_bad put at the end of every epoch and skipped
    // there. 0: plain shuffle.
    int64_t group_by_length = 0;
    // Where to start: a resumed run passes the epoch and end_position of the last batch it
    // consumed, and the loader goes on exactly where it stopped.
    int64_t start_epoch = 0;
    int64_t start_position = 0;
    SequenceConfig sequence;
    PreprocessConfig image;
};

class Loader {
public:
    // The tokenizer must outlive the loader and hold <image> when any sample has an image.
    // Samples are all conversations or all preference pairs. Starts the worker thread.
    Loader(std::unique_ptr<const SampleSource> samples, const text::Tokenizer& tok, LoaderConfig config);
    // Samples held in memory (SampleVector): small sets and tests.
    Loader(std::vector<Sample> samples, const text::Tokenizer& tok, LoaderConfig config);
    ~Loader();
    Loader(const Loader&) = delete;
    Loader& operator=(const Loader&) = delete;

    // The next batch of the current epoch; nullopt once at the end of each epoch (the next call
    // starts the next epoch, reshuffled). Rethrows a worker error (a DataError subtype).
    std::optional<Batch> next();

    // Bad samples skipped in the batches handed out so far (the worker's look-ahead is not counted).
    int64_t skipped() const { return skipped_; }
    const std::string& last_skip_reason() const { return last_skip_reason_; }
    int64_t size() const { return static_cast<int64_t>(samples_->size()); }

private:
    struct Item {
        bool end_of_epoch = false;
        Batch batch;  // when not the end of an epoch nor an error
        std::exception_ptr error;
        int64_t skipped = 0;  // bad samples passed over while preparing this item
        std::string skip_reason;
    };

    // Rows of a batch being built: sequences, images (empty for text-only) and sample ids.
    struct Pending {
        std::vector<Sequence> chosen;
        std::vector<Sequence> rejected;  // preference only
        std::vector<std::vector<float>> images;
        std::vector<std::string> ids;
    };

    void run();
    bool stopping();
    // Tokens in each sample's longest row (the rejected row counts for pairs). A sample that
    // cannot be built throws its named error, or with skip_bad gets length 0. Empty when the
    // loader is stopped meanwhile.
    std::vector<int64_t> sequence_lengths();
    // A sample's sequences: the conversation, or a pair's chosen and rejected answers.
    struct SampleSequences {
        Sequence chosen;
        std::optional<Sequence> rejected;  // preference only
    };
    SampleSequences build_sequences(const Sample& s) const;
    // Tokens in sample i's longest row; throws DataError subtypes naming the sample.
    int64_t sequence_length(size_t i) const;
    // lengths: empty, or sequence_lengths() when grouping.
    std::vector<size_t> epoch_order(int64_t epoch, const std::vector<int64_t>& lengths) const;
    // Appends sample i to the rows; throws DataError subtypes naming the sample (and image path).
    void add_sample(size_t i, Pending& rows) const;
    Batch assemble(const Pending& rows) const;
    bool push(Item item);  // false when the loader is stopping

    const std::unique_ptr<const SampleSource> samples_;
    const text::Tokenizer& tok_;
    const LoaderConfig config_;
    const bool preference_;
    const int64_t pad_id_;

    int64_t skipped_ = 0;            // consumer side only
    std::string last_skip_reason_;   // consumer side only
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<Item> queue_;
    bool stop_ = false;
    std::thread worker_;  // last: starts after every other member is ready
};

}  // namespace mod::data
