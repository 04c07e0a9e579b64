// The reference model's log-probabilities of every preference pair, computed once.
//
// DPO and kto_pair compare the student's logp(y) = sum_t log p(y_t | ...) with the frozen
// reference's (METHOD.md §2). The reference never changes, so a run of several epochs would
// compute the same logp_T(chosen) and logp_T(rejected) of each pair at every visit: a third of
// a quickstart DPO step. ReferenceLogProbs runs the reference over every pair once, in file
// order, before the first step; a resumed run does the same and gets the same values, so resume
// stays exact.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "core/tensor.h"
#include "data/batch.h"
#include "data/loader.h"
#include "models/mllm.h"
#include "trainer/batch_tensors.h"

namespace mod::train {

// The reference's (2N,) log-probs of a preference batch's chosen then rejected rows, computed now;
// pos = shifted_positions(in.labels). The pairs' shared prefix runs once (pair_logits.h).
Tensor reference_log_probs(const models::LlavaModel& reference, const ModelInputs& in, const LabelPositions& pos);

class ReferenceLogProbs {
public:
    // Runs `reference` on every batch of one epoch of `pairs` (a loader of preference pairs in file
    // order); empty without pairs. nullopt when two pairs share an id, so that a batch could not
    // say which is which.
    static std::optional<ReferenceLogProbs> compute(const models::LlavaModel& reference, data::Loader& pairs,
                                                    Device device);

    // The (2N,) log-probs of the batch's pairs, as reference_log_probs gives them; throws
    // ValueError naming a pair that was not in the pass.
    Tensor of(const data::Batch& batch) const;
    int64_t size() const { return static_cast<int64_t>(by_id_.size()); }

private:
    ReferenceLogProbs(DType dtype, Device device) : dtype_(dtype), device_(device) {}

    std::unordered_map<std::string, std::pair<double, double>> by_id_;  // id -> (chosen, rejected)
    DType dtype_;
    Device device_;
};

}  // namespace mod::train
