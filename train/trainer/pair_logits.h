// The reference model's logits for a preference batch, with the prefix that each pair's chosen and
// rejected rows share run once.
//
// A preference batch holds the chosen answers in rows 0..N-1 and the rejected ones in rows
// N..2N-1 (data/batch.h); both rows of a pair hold the same image and prompt, so under causal
// attention their hidden states agree up to the first token where they differ. With L the
// shared length, the frozen model runs the N pairs' first L positions once, then all 2N rows'
// remaining T - L positions, attending to the pairs' keys and values:
//   cost  N * L + 2N * (T - L)  positions instead of  2N * T
// (the image encoder too runs on the N chosen rows' image blocks instead of all 2N rows'). The
// logits equal model.forward's up to float rounding: the same products, blocked differently.
#pragma once

#include "core/tensor.h"
#include "models/mllm.h"
#include "trainer/batch_tensors.h"

namespace mod::train {

// How many leading positions the pairs of a 2N-row batch of ids (B, T) share and the logit rows
// may skip: the shortest common prefix of rows b and b + N, no longer than the first logit row's
// position (every logit row must come after it) and covering every image position (the second
// part has no image). 0 when there is nothing to share: an odd B, a common prefix that stops
// before an image ends, or no position left after it.
int64_t shared_pair_prefix(const std::vector<int64_t>& ids, int64_t B, int64_t T, int64_t image_token_id,
                           const std::vector<int64_t>& logit_rows);

// model(in).logits at `rows` (flat indices b * T + t) under no-grad, the pairs' shared prefix run
// once. A sparse model, or a batch whose pairs share nothing, runs the plain forward: MoE
// routing with a capacity depends on which tokens share a batch.
Tensor pair_logits(const models::LlavaModel& model, const ModelInputs& in, const Tensor& rows);

}  // namespace mod::train
