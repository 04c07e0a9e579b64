#include "models/mllm.h"

#include "core/elementwise.h"
#include "core/index.h"

namespace mod::models {

Projector::Projector(int64_t vision_dim, int64_t dim, Generator& gen, double init_std) {
    fc0 = register_module("0", std::make_shared<nn::Linear>(vision_dim, dim, true, gen, init_std));
    fc2 = register_module("2", std::make_shared<nn::Linear>(dim, dim, true, gen, init_std));
}

Tensor Projector::forward(const Tensor& x) const { return fc2->forward(gelu(fc0->forward(x))); }

VisionTower::VisionTower(std::shared_ptr<ClipVisionModel> model) {
    vision_tower = register_module("vision_tower", std::move(model));
}

LlavaBody::LlavaBody(const MllmConfig& c, Generator& gen, std::shared_ptr<ClipVisionModel> vision)
    : Qwen2Model(c.lm, gen) {
    mm_projector = register_module(
        "mm_projector", std::make_shared<Projector>(c.vision.hidden_size, c.lm.hidden_size, gen, c.lm.init_std));
    if (!vision) vision = std::make_shared<ClipVisionModel>(c.vision, gen);
    vision_tower = register_module("vision_tower", std::make_shared<VisionTower>(std::move(vision)));
}

LlavaModel::LlavaModel(const MllmConfig& c, Generator& gen, std::shared_ptr<ClipVisionModel> vision) : config(c) {
    model = register_module("model", std::make_shared<LlavaBody>(c, gen, std::move(vision)));
    if (!c.lm.tie_word_embeddings)
        lm_head = register_module("lm_head", std::make_shared<nn::Linear>(c.lm.hidden_size, c.lm.vocab_size, false, gen,
                                                                          c.lm.init_std));
    if (c.sparse) {
        // A sparse config describes an already upcycled model (e.g. loading a checkpoint):
        // build its MoE layers; the weights come from the checkpoint.
        config.sparse = false;
        upcycle(gen);
    }
}

Tensor LlavaModel::encode_images(const Tensor& pixel_values) const {
    return model->mm_projector->forward(model->vision_tower->vision_tower->forward(pixel_values));
}

MllmOutput LlavaModel::forward(const Tensor& input_ids, const Tensor& pixel_values, const Tensor& positions,
                               std::vector<nn::KVCache>* caches, Generator* router_gen,
                               const Tensor& logit_rows) const {
    check_defined(input_ids, "mllm", "input_ids");
    MOD_CHECK(input_ids.dim() == 2, ShapeError, "mllm", "input_ids of shape (B, T) expected, got ",
              shape_str(input_ids.shape()));
    const int64_t B = input_ids.size(0), T = input_ids.size(1), D = config.lm.hidden_size;
    Tensor embeds = model->embed_tokens->forward(input_ids.to(device()));  // (B, T, D)

    std::vector<int64_t> image_pos;
    const std::vector<int64_t> ids = input_ids.to_vector<int64_t>();
    for (int64_t i = 0; i < B * T; ++i)
        if (ids[i] == config.image_token_id) image_pos.push_back(i);
    if (pixel_values.defined()) {
        Tensor feats = encode_images(pixel_values.to(device()));  // (Bi, P, D)
        const int64_t n = feats.size(0) * feats.size(1);
        MOD_CHECK(static_cast<int64_t>(image_pos.size()) == n, ShapeError, "mllm", n, " image positions (",
                  feats.size(0), " images x ", feats.size(1), " patches) expected in input_ids, got ",
                  image_pos.size());
        // Image rows of the embedding table are replaced, in order, by the projected patches.
        Tensor pos = Tensor::from_vector<int64_t>(image_pos, {n}).to(embeds.device());
        std::vector<bool> is_image(B * T, false);
        for (int64_t p : image_pos) is_image[p] = true;
        Tensor mask = Tensor::from_vector<bool>(is_image, {B * T, 1}).to(embeds.device());
        Tensor flat = masked_fill(embeds.reshape({B * T, D}), mask, 0.0);
        embeds = index_add(flat, 0, pos, feats.reshape({n, D}).to(flat.dtype())).reshape({B, T, D});
    } else {
        MOD_CHECK(image_pos.empty(), ValueError, "mllm", "pixel_values expected: input_ids hold ", image_pos.size(),
                  " image positions (id ", config.image_token_id, ")");
    }
    const int64_t start = caches && !caches->empty() ? (*caches)[0].length() : 0;
    Tensor pos = (positions.defined() ? positions : default_positions(B, T, start)).to(embeds.device());
    MllmOutput out;
    Tensor hidden = model->forward_embeds(embeds, pos, caches, &out.moe, router_gen);  // (B, T, D)
    if (logit_rows.defined()) hidden = index_select(hidden.reshape({B * T, D}), 0, logit_rows.to(device()));  // (N, D)
    out.logits = lm_logits(hidden, *model, lm_head.get());  // (B, T, V) or (N, V)
    return out;
}

Device LlavaModel::device() const { return model->embed_tokens->weight.device(); }

void LlavaModel::upcycle(Generator& gen) {
    MOD_CHECK(!config.sparse, ValueError, "upcycle", "a dense model expected; this one is already sparse");
    for (int64_t l : config.moe.layers) {
        MOD_CHECK(l >= 0 && l < static_cast<int64_t>(model->layers->size()), ValueError, "upcycle",
                  "moe layer in [0, ", model->layers->size(), ") expected, got ", l);
        (*model->layers)[l]->upcycle(config.moe, gen);
    }
    config.sparse = true;
    // The new experts and routers are built on the CPU in float32: bring them to the rest.
    to(device());
    set_compute_dtype(compute_dtype());
}

ParameterCounts LlavaModel::parameter_counts() const {
    ParameterCounts c{num_parameters(), num_parameters()};
    for (const auto& layer : *model->layers) {
        if (!layer->is_sparse()) continue;
        const auto& experts = *layer->moe_mlp->experts;
        const int64_t unused = static_cast<int64_t>(experts.size()) - config.moe.top_k;
        c.activated -= unused * experts[0]->num_parameters();
    }
    return c;
}

}  // namespace mod::models
