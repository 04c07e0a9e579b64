#include "trainer/losses.h"

#include "core/elementwise.h"
#include "core/index.h"
#include "core/loss.h"
#include "core/reduce.h"
#include "core/softmax.h"

namespace mod::train {

Tensor logits_at(const Tensor& logits, const LabelPositions& pos) {
    if (logits.dim() != 2) return index_select(logits.reshape({-1, logits.size(-1)}), 0, pos.rows);
    MOD_CHECK(logits.size(0) == pos.rows.size(0), ShapeError, "logits_at", "logits at the ", pos.rows.size(0),
              " label positions expected, got ", shape_str(logits.shape()));
    return logits;
}

Tensor response_cross_entropy(const Tensor& logits, const LabelPositions& pos) {
    return cross_entropy(logits_at(logits, pos), pos.targets);
}

Tensor distillation_loss(const Tensor& student_logits, const Tensor& teacher_logits, const LabelPositions& pos,
                         double tau) {
    Tensor s = logits_at(student_logits, pos);
    Tensor t = logits_at(teacher_logits, pos);
    const int64_t V = s.size(1);
    MOD_CHECK(t.size(1) >= V, ShapeError, "distillation_loss", "a teacher vocabulary of at least ", V,
              " entries expected, got ", t.size(1));
    if (t.size(1) > V) t = t.narrow(1, 0, V).contiguous();
    return soft_cross_entropy(s, t.to(s.dtype()), tau);
}

Tensor sequence_log_probs(const Tensor& logits, const LabelPositions& pos, int64_t rows) {
    Tensor lp = log_softmax(logits_at(logits, pos), 1);              // (N, V)
    Tensor picked = gather(lp, 1, pos.targets.unsqueeze(1)).squeeze(1);  // (N,)
    return index_add(Tensor::zeros({rows}, picked.dtype(), picked.device()), 0, pos.sample, picked);  // (rows,)
}

namespace {
// -log sigmoid(x) = softplus(-x) = max(-x, 0) + log(1 + exp(-|x|)), stable for any x.
Tensor neg_log_sigmoid(const Tensor& x) { return relu(neg(x)) + log(exp(neg(abs(x))) + 1.0); }
}  // namespace

PreferenceLoss preference_loss(const std::string& kind, const Tensor& policy_logps, const Tensor& reference_logps,
                               double beta) {
    const int64_t pairs = policy_logps.size(0) / 2;
    Tensor r = policy_logps - reference_logps.detach();
    Tensor rc = r.narrow(0, 0, pairs), rr = r.narrow(0, pairs, pairs);
    PreferenceLoss out;
    if (kind == "dpo") {
        out.loss = mean(neg_log_sigmoid((rc - rr) * beta));
    } else if (kind == "kto_pair") {
        Tensor kl_c = clamp(mean(rc), 0.0, 1e30), kl_r = clamp(mean(rr), 0.0, 1e30);
        Tensor chosen = 1.0 - sigmoid((rc - kl_r) * beta);
        Tensor rejected = 1.0 - sigmoid((kl_c - rr) * beta);
        out.loss = (mean(chosen) + mean(rejected)) * 0.5;
    } else {
        throw ValueError(detail::format_error("preference_loss", "loss dpo or kto_pair expected, got ", kind));
    }
    const std::vector<double> c = rc.to_vector<double>(), j = rr.to_vector<double>();
    for (int64_t i = 0; i < pairs; ++i) {
        out.reward_chosen += beta * c[i] / pairs;
        out.reward_rejected += beta * j[i] / pairs;
        out.accuracy += (c[i] > j[i] ? 1.0 : 0.0) / pairs;
    }
    out.margin = out.reward_chosen - out.reward_rejected;
    return out;
}

}  // namespace mod::train
