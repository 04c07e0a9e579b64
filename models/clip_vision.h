// CLIP vision transformer (METHOD.md §1), named as Hugging Face's CLIPVisionModel:
//   vision_model.embeddings.{patch_embedding.weight, class_embedding, position_embedding.weight}
//   vision_model.pre_layrnorm, vision_model.encoder.layers.{i}.{self_attn, layer_norm1, mlp, layer_norm2}
//   vision_model.post_layernorm (kept for checkpoint compatibility; features are taken before it)
// Shape letters: B images, C = 3 channels, S image size, P patches, Dv width.
#pragma once

#include "models/config.h"
#include "nn/attention.h"
#include "nn/conv.h"
#include "nn/mlp.h"
#include "nn/norm.h"

namespace mod::models {

class ClipEncoderLayer : public nn::Module {
public:
    ClipEncoderLayer(const VisionConfig& c, Generator& gen);
    Tensor forward(const Tensor& x) const;  // (B, P+1, Dv) -> (B, P+1, Dv)

    std::shared_ptr<nn::Attention> self_attn;
    std::shared_ptr<nn::LayerNorm> layer_norm1, layer_norm2;
    std::shared_ptr<nn::ClipMlp> mlp;
};

class ClipVisionEmbeddings : public nn::Module {
public:
    ClipVisionEmbeddings(const VisionConfig& c, Generator& gen);
    Tensor forward(const Tensor& pixels) const;  // (B, C, S, S) -> (B, P+1, Dv), class token first

    Tensor class_embedding;  // (Dv,)
    std::shared_ptr<nn::Conv2d> patch_embedding;
    std::shared_ptr<nn::Embedding> position_embedding;  // (P+1, Dv)
};

class ClipEncoder : public nn::Module {
public:
    ClipEncoder(const VisionConfig& c, Generator& gen);
    std::shared_ptr<nn::ModuleList<ClipEncoderLayer>> layers;
};

class ClipVisionTransformer : public nn::Module {
public:
    ClipVisionTransformer(const VisionConfig& c, Generator& gen);
    // pixels (B, C, S, S) -> features (B, P, Dv): the output of block select_layer, class token dropped.
    Tensor forward(const Tensor& pixels) const;

    VisionConfig config;
    std::shared_ptr<ClipVisionEmbeddings> embeddings;
    std::shared_ptr<nn::LayerNorm> pre_layrnorm, post_layernorm;
    std::shared_ptr<ClipEncoder> encoder;
};

// HF's CLIPVisionModel: the transformer under the name "vision_model".
class ClipVisionModel : public nn::Module {
public:
    ClipVisionModel(const VisionConfig& c, Generator& gen);
    Tensor forward(const Tensor& pixels) const { return vision_model->forward(pixels); }

    std::shared_ptr<ClipVisionTransformer> vision_model;
};

}  // namespace mod::models
