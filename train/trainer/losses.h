// The training losses of METHOD.md §2, on logits and the label positions that
// trainer/batch_tensors.h computes. Only the N supervised rows of the logits enter a loss:
// logits are (B, T, V), or (N, V) already at pos.rows (a forward given logit_rows = pos.rows).
#pragma once

#include "core/tensor.h"
#include "trainer/batch_tensors.h"

namespace mod::train {

// (N, V): the logits rows at pos.rows (logits that are those rows already pass through).
Tensor logits_at(const Tensor& logits, const LabelPositions& pos);

// Cross-entropy on response tokens, mean over the N positions.
Tensor response_cross_entropy(const Tensor& logits, const LabelPositions& pos);

// KD = tau^2 * mean_N [ - sum_v softmax(t / tau) log softmax(s / tau) ], the teacher under
// no-grad. When the teacher's vocabulary is padded wider, its extra entries are dropped.
Tensor distillation_loss(const Tensor& student_logits, const Tensor& teacher_logits, const LabelPositions& pos,
                         double tau);

// Per-row sum of log p(target) over the response positions: (B,) for B rows.
Tensor sequence_log_probs(const Tensor& logits, const LabelPositions& pos, int64_t rows);

struct PreferenceLoss {
    Tensor loss;
    double reward_chosen = 0.0;    // mean of beta * r_c
    double reward_rejected = 0.0;  // mean of beta * r_r
    double margin = 0.0;           // mean of beta * (r_c - r_r)
    double accuracy = 0.0;         // share of pairs with r_c > r_r
};

// policy and reference log-probs (2N,): chosen rows first, then rejected. r = policy - reference.
// dpo:      loss = mean -log sigmoid(beta (r_c - r_r))
// kto_pair: KL_c = max(0, mean r_c), KL_r = max(0, mean r_r);
//           loss = mean of [1 - sigmoid(beta (r_c - KL_r))] and [1 - sigmoid(beta (KL_c - r_r))]
PreferenceLoss preference_loss(const std::string& kind, const Tensor& policy_logps, const Tensor& reference_logps,
                               double beta);

}  // namespace mod::train
