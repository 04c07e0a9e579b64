// A data::Batch (plain arrays) as the tensors the MLLM takes, and the label positions the
// losses read. Shape letters: B rows, T tokens, V vocabulary, N supervised positions.
#pragma once

#include "core/tensor.h"
#include "data/batch.h"

namespace mod::train {

struct ModelInputs {
    Tensor input_ids;  // (B, T) int64
    Tensor labels;     // (B, T) int64, -100 where not supervised
    Tensor pixels;     // (Bi, 3, S, S) float32: one per image block (a row's image once per block), in
                       // row order; undefined if none
    int64_t tokens = 0;  // real (non-padding) tokens, for throughput
};

// The tensors on `device` (the trainer's device=).
ModelInputs to_model_inputs(const data::Batch& batch, Device device = Device::cpu());

// The positions whose logits a loss reads, as flat indices into the B*T rows of the logits,
// on the labels' device.
struct LabelPositions {
    Tensor rows;     // (N,) int64: b * T + t
    Tensor targets;  // (N,) int64: the token that position should predict
    Tensor sample;   // (N,) int64: the batch row b of each position
    int64_t count = 0;
};

// Causal LM positions: t predicts labels[t + 1] wherever that label is supervised.
LabelPositions shifted_positions(const Tensor& labels);
// The supervised positions themselves (METHOD.md kd_mask = unshifted, the public code's choice).
LabelPositions unshifted_positions(const Tensor& labels);

}  // namespace mod::train
