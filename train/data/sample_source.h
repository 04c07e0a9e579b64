// Where the loader takes its samples from, by position: all held in memory (SampleVector), or read
// from the JSON files on demand (IndexedSamples, indexed_samples.h), so that millions of samples
// cost the memory of their index rather than of their text.
#pragma once

#include "data/conversation.h"

#include <cstddef>
#include <vector>

namespace mod::data {

class SampleSource {
public:
    virtual ~SampleSource() = default;
    virtual size_t size() const = 0;
    // Sample i, 0 <= i < size(); called from the loader's worker thread. Throws DataError subtypes.
    virtual Sample get(size_t i) const = 0;
    // Preference pairs (Sample::rejected set) rather than conversations.
    virtual bool preference() const = 0;
    // Some sample has an image (the tokenizer must then hold <image>).
    virtual bool any_image() const = 0;
};

class SampleVector final : public SampleSource {
public:
    // Throws DataError when pairs and conversations are mixed.
    explicit SampleVector(std::vector<Sample> samples);
    size_t size() const override { return samples_.size(); }
    Sample get(size_t i) const override { return samples_[i]; }
    bool preference() const override { return preference_; }
    bool any_image() const override { return any_image_; }

private:
    std::vector<Sample> samples_;
    bool preference_ = false;
    bool any_image_ = false;
};

}  // namespace mod::data
