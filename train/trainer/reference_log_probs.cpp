#include "trainer/reference_log_probs.h"

#include <vector>

#include "core/error.h"
#include "trainer/losses.h"
#include "trainer/pair_logits.h"

namespace mod::train {

Tensor reference_log_probs(const models::LlavaModel& reference, const ModelInputs& in, const LabelPositions& pos) {
    return sequence_log_probs(pair_logits(reference, in, pos.rows), pos, in.input_ids.size(0));
}

std::optional<ReferenceLogProbs> ReferenceLogProbs::compute(const models::LlavaModel& reference, data::Loader& pairs,
                                                            Device device) {
    ReferenceLogProbs table(DType::F32, device);
    while (std::optional<data::Batch> b = pairs.next()) {
        const ModelInputs in = to_model_inputs(*b, device);
        const Tensor lp = reference_log_probs(reference, in, shifted_positions(in.labels));
        table.dtype_ = lp.dtype();
        const std::vector<double> v = lp.to_vector<double>();
        const int64_t n = b->B / 2;  // rows 0..n-1 chosen, n..2n-1 rejected (data/batch.h)
        for (int64_t i = 0; i < n; ++i) {
            if (!table.by_id_.emplace(b->sample_ids[i], std::make_pair(v[i], v[i + n])).second) return std::nullopt;
        }
    }
    return table;
}

Tensor ReferenceLogProbs::of(const data::Batch& batch) const {
    const int64_t n = batch.B / 2;
    std::vector<double> v(static_cast<size_t>(batch.B));
    for (int64_t i = 0; i < n; ++i) {
        const auto it = by_id_.find(batch.sample_ids[i]);
        MOD_CHECK(it != by_id_.end(), ValueError, "ReferenceLogProbs", "pair \"", batch.sample_ids[i],
                  "\" was not in the reference pass");
        v[i] = it->second.first;
        v[i + n] = it->second.second;
    }
    return Tensor::from_vector(v, {batch.B}).to(dtype_).to(device_);
}

}  // namespace mod::train
