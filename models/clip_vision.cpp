#include "models/clip_vision.h"

#include "core/elementwise.h"
#include "core/view.h"

namespace mod::models {

namespace {
nn::AttentionConfig clip_attention(const VisionConfig& c) {
    nn::AttentionConfig a;
    a.dim = c.hidden_size;
    a.heads = c.num_heads;
    a.kv_heads = c.num_heads;
    a.qkv_bias = true;
    a.out_bias = true;
    a.causal = false;
    a.rope = false;
    a.out_name = "out_proj";
    a.init_std = c.init_std;
    return a;
}
}  // namespace

ClipEncoderLayer::ClipEncoderLayer(const VisionConfig& c, Generator& gen) {
    self_attn = register_module("self_attn", std::make_shared<nn::Attention>(clip_attention(c), gen));
    layer_norm1 = register_module("layer_norm1", std::make_shared<nn::LayerNorm>(c.hidden_size, c.layer_norm_eps));
    mlp = register_module("mlp", std::make_shared<nn::ClipMlp>(c.hidden_size, c.intermediate_size, gen, c.init_std));
    layer_norm2 = register_module("layer_norm2", std::make_shared<nn::LayerNorm>(c.hidden_size, c.layer_norm_eps));
}

Tensor ClipEncoderLayer::forward(const Tensor& x) const {
    Tensor h = x + self_attn->forward(layer_norm1->forward(x), Tensor());  // pre-LN attention
    return h + mlp->forward(layer_norm2->forward(h));                       // pre-LN MLP
}

ClipVisionEmbeddings::ClipVisionEmbeddings(const VisionConfig& c, Generator& gen) {
    Tensor cls = Tensor::empty({c.hidden_size});
    normal_(cls, 0.0, c.init_std, gen);
    class_embedding = register_parameter("class_embedding", cls);
    patch_embedding = register_module(
        "patch_embedding", std::make_shared<nn::Conv2d>(3, c.hidden_size, c.patch_size, c.patch_size, false, gen, c.init_std));
    position_embedding = register_module(
        "position_embedding", std::make_shared<nn::Embedding>(c.num_patches() + 1, c.hidden_size, gen, c.init_std));
}

Tensor ClipVisionEmbeddings::forward(const Tensor& pixels) const {
    const int64_t B = pixels.size(0), D = class_embedding.size(0);
    Tensor patches = patch_embedding->forward(pixels).flatten(2).transpose(1, 2);  // (B, P, Dv)
    Tensor cls = class_embedding.view({1, 1, D}).expand({B, 1, D});                 // (B, 1, Dv)
    return cat({cls, patches}, 1) + position_embedding->weight;                     // (B, P+1, Dv)
}

ClipEncoder::ClipEncoder(const VisionConfig& c, Generator& gen) {
    layers = register_module("layers", std::make_shared<nn::ModuleList<ClipEncoderLayer>>());
    for (int64_t i = 0; i < c.num_layers; ++i) layers->push_back(std::make_shared<ClipEncoderLayer>(c, gen));
}

ClipVisionTransformer::ClipVisionTransformer(const VisionConfig& c, Generator& gen) : config(c) {
    embeddings = register_module("embeddings", std::make_shared<ClipVisionEmbeddings>(c, gen));
    pre_layrnorm = register_module("pre_layrnorm", std::make_shared<nn::LayerNorm>(c.hidden_size, c.layer_norm_eps));
    encoder = register_module("encoder", std::make_shared<ClipEncoder>(c, gen));
    post_layernorm = register_module("post_layernorm", std::make_shared<nn::LayerNorm>(c.hidden_size, c.layer_norm_eps));
}

Tensor ClipVisionTransformer::forward(const Tensor& pixels) const {
    MOD_CHECK(pixels.dim() == 4 && pixels.size(1) == 3 && pixels.size(2) == config.image_size &&
                  pixels.size(3) == config.image_size,
              ShapeError, "clip_vision", "pixels of shape (B, 3, ", config.image_size, ", ", config.image_size,
              ") expected, got ", shape_str(pixels.shape()));
    Tensor h = pre_layrnorm->forward(embeddings->forward(pixels));  // (B, P+1, Dv)
    for (int64_t i = 0; i < config.layers_used(); ++i) h = (*encoder->layers)[i]->forward(h);
    return h.narrow(1, 1, h.size(1) - 1);  // (B, P, Dv): class token dropped
}

ClipVisionModel::ClipVisionModel(const VisionConfig& c, Generator& gen) {
    vision_model = register_module("vision_model", std::make_shared<ClipVisionTransformer>(c, gen));
}

}  // namespace mod::models
