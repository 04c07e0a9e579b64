#include "data/sample_source.h"

#include "data/errors.h"

#include <algorithm>

namespace mod::data {

SampleVector::SampleVector(std::vector<Sample> samples) : samples_(std::move(samples)) {
    preference_ = !samples_.empty() && !samples_.front().rejected.empty();
    for (const Sample& s : samples_) {
        if (s.rejected.empty() == preference_) {
            throw DataError("[Loader] sample \"" + s.id + "\": mixes preference pairs and conversations in one loader");
        }
    }
    any_image_ = std::any_of(samples_.begin(), samples_.end(), [](const Sample& s) { return !s.image.empty(); });
}

}  // namespace mod::data
