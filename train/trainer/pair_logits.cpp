#include "trainer/pair_logits.h"

#include <algorithm>

#include "autograd/grad_mode.h"
#include "core/view.h"

namespace mod::train {

int64_t shared_pair_prefix(const std::vector<int64_t>& ids, int64_t B, int64_t T, int64_t image_token_id,
                           const std::vector<int64_t>& logit_rows) {
    if (B < 2 || B % 2 != 0 || T < 2) return 0;
    const int64_t N = B / 2;
    int64_t L = T - 1;  // at least one position for the second part
    for (int64_t r : logit_rows) L = std::min(L, r % T);
    for (int64_t b = 0; b < N && L > 0; ++b) {
        const int64_t* chosen = ids.data() + b * T;
        const int64_t* rejected = ids.data() + (b + N) * T;
        L = std::min<int64_t>(L, std::mismatch(chosen, chosen + L, rejected).first - chosen);
    }
    for (int64_t i = 0; i < B * T && L > 0; ++i)
        if (ids[i] == image_token_id && i % T >= L) return 0;
    return L;
}

Tensor pair_logits(const models::LlavaModel& model, const ModelInputs& in, const Tensor& rows) {
    NoGradGuard no_grad;
    const int64_t B = in.input_ids.size(0), T = in.input_ids.size(1), N = B / 2;
    const std::vector<int64_t> ids = in.input_ids.to_vector<int64_t>();
    const std::vector<int64_t> flat_rows = rows.to_vector<int64_t>();
    const int64_t L = model.config.sparse
                          ? 0
                          : shared_pair_prefix(ids, B, T, model.config.image_token_id, flat_rows);
    if (L == 0) return model.forward(in.input_ids, in.pixels, Tensor(), nullptr, nullptr, rows).logits;

    // The pairs' prefix, with the chosen rows' image blocks (they come in row order, so those of
    // rows 0..N-1 first; the rejected rows hold the same images). Every block lies in the prefix.
    int64_t image_positions = 0;
    for (int64_t b = 0; b < N; ++b)
        image_positions += std::count(ids.begin() + b * T, ids.begin() + b * T + L, model.config.image_token_id);
    const int64_t images = image_positions / model.config.vision.num_patches();
    const Tensor pixels = images > 0 ? in.pixels.narrow(0, 0, images) : Tensor();
    std::vector<nn::KVCache> caches(model.model->layers->size());
    // Only the keys and values are wanted: the head runs on one row.
    model.forward(in.input_ids.narrow(0, 0, N).narrow(1, 0, L).contiguous(), pixels, Tensor(), &caches, nullptr,
                  Tensor::from_vector<int64_t>({0}, {1}));
    // Row b + N continues from the keys and values of row b.
    for (nn::KVCache& c : caches) {
        c.k = cat({c.k, c.k}, 0);
        c.v = cat({c.v, c.v}, 0);
    }
    std::vector<int64_t> rest_rows(flat_rows.size());
    for (size_t i = 0; i < flat_rows.size(); ++i) {
        const int64_t b = flat_rows[i] / T, t = flat_rows[i] % T;
        rest_rows[i] = b * (T - L) + (t - L);
    }
    return model
        .forward(in.input_ids.narrow(1, L, T - L).contiguous(), Tensor(), Tensor(), &caches, nullptr,
                 Tensor::from_vector<int64_t>(rest_rows, {static_cast<int64_t>(rest_rows.size())}).to(rows.device()))
        .logits;
}

}  // namespace mod::train
