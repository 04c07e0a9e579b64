// The loader's worker: one thread, a bounded queue of ready batches, errors passed to next().
#include "data/loader.h"

#include "data/errors.h"
#include "data/image_io.h"
#include "data/rng.h"

#include <algorithm>

namespace mod::data {

namespace {

int64_t pick_pad_id(const text::Tokenizer& tok) {
    for (const char* t : {text::kPadToken, text::kEndOfText}) {
        if (const int32_t id = tok.token_id(t); id >= 0) return id;
    }
    return 0;  // padding is masked by lengths and labels, so any id works
}

// Re-throws the error being handled, same type, with the sample named in front.
[[noreturn]] void rethrow_named(const std::string& prefix) {
    try {
        throw;
    } catch (const ImageError& e) {
        throw ImageError(prefix + e.what());
    } catch (const TokenizerError& e) {
        throw TokenizerError(prefix + e.what());
    } catch (const JsonError& e) {
        throw JsonError(prefix + e.what());
    } catch (const DataError& e) {
        throw DataError(prefix + e.what());
    }
}

// What a sample's errors start with: its id, and its image's path when it has one.
std::string sample_prefix(const Sample& s) {
    return "[Loader] sample \"" + s.id + "\"" + (s.image.empty() ? "" : " (image " + s.image + ")") + ": ";
}

}  // namespace

Loader::Loader(std::unique_ptr<const SampleSource> samples, const text::Tokenizer& tok, LoaderConfig config)
    : samples_(std::move(samples)),
      tok_(tok),
      config_(std::move(config)),
      preference_(samples_->preference()),
      pad_id_(pick_pad_id(tok)) {
    if (config_.batch_size < 1 || config_.prefetch < 1 || config_.sequence.image_tokens < 1 || config_.image.size < 1) {
        throw DataError("[Loader] batch_size, prefetch, image_tokens and image size must be >= 1");
    }
    if (config_.group_by_length < 0) throw DataError("[Loader] group_by_length must be >= 0");
    if (samples_->any_image()) tok_.require_id(text::kImageToken);  // else <image> would be tokenised as plain text
    worker_ = std::thread(&Loader::run, this);
}

Loader::Loader(std::vector<Sample> samples, const text::Tokenizer& tok, LoaderConfig config)
    : Loader(std::make_unique<SampleVector>(std::move(samples)), tok, std::move(config)) {}

Loader::~Loader() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_ = true;
    }
    cv_.notify_all();
    worker_.join();
}

std::optional<Batch> Loader::next() {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return !queue_.empty(); });
    if (queue_.front().error) std::rethrow_exception(queue_.front().error);  // stays queued: the worker has stopped
    Item item = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    cv_.notify_all();
    skipped_ += item.skipped;
    if (!item.skip_reason.empty()) last_skip_reason_ = item.skip_reason;
    if (item.end_of_epoch) return std::nullopt;
    return std::move(item.batch);
}

bool Loader::push(Item item) {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return stop_ || static_cast<int>(queue_.size()) < config_.prefetch; });
    if (stop_) return false;
    queue_.push_back(std::move(item));
    lock.unlock();
    cv_.notify_all();
    return true;
}

bool Loader::stopping() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stop_;
}

Loader::SampleSequences Loader::build_sequences(const Sample& s) const {
    SampleSequences out{build_sequence(s.messages, tok_, config_.sequence), std::nullopt};
    if (preference_) out.rejected = build_sequence(s.rejected, tok_, config_.sequence);
    return out;
}

int64_t Loader::sequence_length(size_t i) const {
    const Sample s = samples_->get(i);  // its own errors name the file and the sample
    try {
        const SampleSequences seqs = build_sequences(s);
        const size_t chosen = seqs.chosen.ids.size();
        return static_cast<int64_t>(seqs.rejected ? std::max(chosen, seqs.rejected->ids.size()) : chosen);
    } catch (const DataError&) {
        rethrow_named(sample_prefix(s));
    }
}

std::vector<int64_t> Loader::sequence_lengths() {
    std::vector<int64_t> lengths(samples_->size(), 0);
    for (size_t i = 0; i < lengths.size(); ++i) {
        if (i % 1024 == 0 && stopping()) return {};
        try {
            lengths[i] = sequence_length(i);
        } catch (const DataError&) {
            if (!config_.skip_bad) throw;
        }
    }
    return lengths;
}

namespace {

// Sorts one window of the order by length x (1 + u), u uniform in [0, 0.3), longest first, then
// shuffles its batches. With the random factor, samples within about 30% of each other may come
// in either order: a strict sort would also split a cluster of nearly equal lengths by the few
// tokens its task types differ in (the world's questions are 56-71 tokens), leaving each batch a
// few types; this way long and short still part. Shuffled, a batch's length says nothing about
// its place in the window. The window holds whole batches.
void group_window(std::vector<size_t>::iterator first, std::vector<size_t>::iterator last, size_t batch,
                  const std::vector<int64_t>& lengths, Rng& rng) {
    std::vector<std::pair<int64_t, size_t>> keyed;  // (key, sample)
    for (auto it = first; it != last; ++it) {
        keyed.emplace_back(lengths[*it] * (1000 + static_cast<int64_t>(rng.below(300))), *it);
    }
    std::stable_sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    std::vector<size_t> batches(keyed.size() / batch);
    for (size_t k = 0; k < batches.size(); ++k) batches[k] = k;
    rng.shuffle(batches);
    for (size_t k = 0; k < batches.size(); ++k) {
        for (size_t j = 0; j < batch; ++j) {
            first[static_cast<std::ptrdiff_t>(k * batch + j)] = keyed[batches[k] * batch + j].second;
        }
    }
}

}  // namespace

std::vector<size_t> Loader::epoch_order(int64_t epoch, const std::vector<int64_t>& lengths) const {
    std::vector<size_t> order(samples_->size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    if (!config_.shuffle) return order;
    Rng rng = Rng::derive(config_.seed, 0x10ad, static_cast<uint64_t>(epoch));
    rng.shuffle(order);
    if (lengths.empty()) return order;
    // Samples that cannot be built (length 0, skip_bad) go last, where skipping them shifts no
    // batch, and before them the remainder of the division into batches, a random pick as
    // without grouping (drop_last drops it). The windows in front hold whole batches only.
    const auto first_bad =
        std::stable_partition(order.begin(), order.end(), [&](size_t i) { return lengths[i] > 0; });
    const size_t batch = static_cast<size_t>(config_.batch_size);
    const size_t grouped = static_cast<size_t>(first_bad - order.begin()) / batch * batch;
    const size_t window = batch * static_cast<size_t>(config_.group_by_length);
    for (size_t start = 0; start < grouped; start += window) {
        group_window(order.begin() + static_cast<std::ptrdiff_t>(start),
                     order.begin() + static_cast<std::ptrdiff_t>(std::min(grouped, start + window)), batch, lengths, rng);
    }
    return order;
}

void Loader::add_sample(size_t i, Pending& rows) const {
    const Sample s = samples_->get(i);  // its own errors name the file and the sample
    try {
        SampleSequences built = build_sequences(s);
        std::vector<float> pixels;
        if (!s.image.empty()) {
            pixels.resize(static_cast<size_t>(3) * config_.image.size * config_.image.size);
            preprocess_image(read_image(s.image), config_.image, pixels.data());
        }
        // Only now that nothing can fail: a bad sample leaves no partial row behind.
        rows.chosen.push_back(std::move(built.chosen));
        if (built.rejected) rows.rejected.push_back(std::move(*built.rejected));
        rows.images.push_back(std::move(pixels));
        rows.ids.push_back(s.id);
    } catch (const DataError&) {
        rethrow_named(sample_prefix(s));
    }
}

Batch Loader::assemble(const Pending& rows) const {
    Batch b;
    b.preference = preference_;
    b.S = config_.image.size;
    b.P = config_.sequence.image_tokens;
    std::vector<const Sequence*> seqs;
    std::vector<const std::vector<float>*> images;
    for (const Sequence& s : rows.chosen) seqs.push_back(&s);
    for (const Sequence& s : rows.rejected) seqs.push_back(&s);
    for (const auto& im : rows.images) images.push_back(&im);
    if (preference_) {
        for (const auto& im : rows.images) images.push_back(&im);  // the rejected rows see the same image
    }
    b.B = static_cast<int64_t>(seqs.size());
    for (const Sequence* s : seqs) b.T = std::max<int64_t>(b.T, static_cast<int64_t>(s->ids.size()));
    b.ids.assign(static_cast<size_t>(b.B * b.T), pad_id_);
    b.labels.assign(static_cast<size_t>(b.B * b.T), kIgnore);
    const size_t image_floats = static_cast<size_t>(3 * b.S * b.S);
    b.pixels.assign(static_cast<size_t>(b.B) * image_floats, 0.0f);
    for (int64_t r = 0; r < b.B; ++r) {
        const Sequence& s = *seqs[r];
        std::copy(s.ids.begin(), s.ids.end(), b.ids.begin() + r * b.T);
        std::copy(s.labels.begin(), s.labels.end(), b.labels.begin() + r * b.T);
        b.lengths.push_back(static_cast<int64_t>(s.ids.size()));
        b.image_blocks.push_back(s.image_blocks);
        const std::vector<float>& im = *images[r];
        std::copy(im.begin(), im.end(), b.pixels.begin() + static_cast<int64_t>(r * image_floats));
    }
    b.sample_ids = rows.ids;
    if (preference_) b.sample_ids.insert(b.sample_ids.end(), rows.ids.begin(), rows.ids.end());
    return b;
}

void Loader::run() {
    try {
        const bool grouped = config_.shuffle && config_.group_by_length > 0;
        const std::vector<int64_t> lengths = grouped ? sequence_lengths() : std::vector<int64_t>{};
        if (grouped && lengths.empty() && samples_->size() > 0) return;  // stopped while measuring
        for (int64_t epoch = config_.start_epoch;; ++epoch) {
            const std::vector<size_t> order = epoch_order(epoch, lengths);
            size_t pos = epoch == config_.start_epoch ? static_cast<size_t>(config_.start_position) : 0;
            int64_t skipped = 0;  // skips since the last item pushed, carried by the next one
            std::string reason;
            for (;;) {
                Pending rows;
                while (static_cast<int64_t>(rows.chosen.size()) < config_.batch_size && pos < order.size()) {
                    try {
                        add_sample(order[pos++], rows);
                    } catch (const DataError& e) {
                        if (!config_.skip_bad) throw;
                        ++skipped;
                        reason = e.what();
                    }
                }
                if (rows.chosen.empty()) break;
                if (config_.drop_last && static_cast<int64_t>(rows.chosen.size()) < config_.batch_size) break;
                Batch batch = assemble(rows);
                batch.epoch = epoch;
                batch.end_position = static_cast<int64_t>(pos);
                if (!push(Item{false, std::move(batch), nullptr, skipped, reason})) return;
                skipped = 0;
                reason.clear();
            }
            if (!push(Item{true, Batch{}, nullptr, skipped, reason})) return;
        }
    } catch (...) {
        push(Item{false, Batch{}, std::current_exception(), 0, ""});
    }
}

}  // namespace mod::data
