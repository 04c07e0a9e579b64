// The multimodal LM (METHOD.md §1): CLIP vision encoder -> mlp2x_gelu projector -> Qwen2
// decoder, named as LLaVA checkpoints name it:
//   model.vision_tower.vision_tower.vision_model.*, model.mm_projector.{0,2}.*,
//   model.embed_tokens / layers / norm, lm_head (untied only).
// The image features replace the embeddings at the positions of image_token_id in
// input_ids: the loader expands each <image> to P such positions, one per patch.
#pragma once

#include "models/clip_vision.h"
#include "models/qwen2.h"

namespace mod::models {

// mlp2x_gelu: Linear(Dv, D) -> GELU (erf) -> Linear(D, D), under the names 0 and 2.
class Projector : public nn::Module {
public:
    Projector(int64_t vision_dim, int64_t dim, Generator& gen, double init_std);
    Tensor forward(const Tensor& x) const;  // (..., Dv) -> (..., D)

    std::shared_ptr<nn::Linear> fc0, fc2;
};

// LLaVA's wrapper that holds CLIPVisionModel under "vision_tower".
class VisionTower : public nn::Module {
public:
    explicit VisionTower(std::shared_ptr<ClipVisionModel> model);
    std::shared_ptr<ClipVisionModel> vision_tower;
};

class LlavaBody : public Qwen2Model {
public:
    LlavaBody(const MllmConfig& c, Generator& gen, std::shared_ptr<ClipVisionModel> vision);
    std::shared_ptr<Projector> mm_projector;
    std::shared_ptr<VisionTower> vision_tower;
};

struct MllmOutput {
    Tensor logits;  // (B, T, V); (N, V) when forward was given logit_rows
    MoeLosses moe;  // empty for a dense model
};

class LlavaModel : public nn::Module {
public:
    // vision: a vision encoder to share (the student uses the teacher's); null builds a new one.
    LlavaModel(const MllmConfig& config, Generator& gen, std::shared_ptr<ClipVisionModel> vision = nullptr);

    // input_ids (B, T) int; pixel_values (Bi, 3, S, S) or undefined when no image position
    // is in input_ids; positions (B, T) or undefined for 0..T-1; caches: one per LM layer.
    // logit_rows (N,) int, flat indices into the B*T positions: the LM head runs on those rows
    // only (a loss reads a few of them, and the head over a large vocabulary is costly).
    MllmOutput forward(const Tensor& input_ids, const Tensor& pixel_values, const Tensor& positions = Tensor(),
                       std::vector<nn::KVCache>* caches = nullptr, Generator* router_gen = nullptr,
                       const Tensor& logit_rows = Tensor()) const;
    // pixels (Bi, 3, S, S) -> projected image features (Bi, P, D)
    Tensor encode_images(const Tensor& pixel_values) const;
    // Sparse upcycling of the layers config.moe.layers names (METHOD.md §1), on the model's
    // device and with its compute dtype.
    void upcycle(Generator& gen);
    // Where the weights live; forward moves its inputs there.
    Device device() const;
    // Counted from the modules; equals mllm_parameter_counts(config).
    ParameterCounts parameter_counts() const;

    MllmConfig config;
    std::shared_ptr<LlavaBody> model;
    std::shared_ptr<nn::Linear> lm_head;  // null when tied
};

}  // namespace mod::models
