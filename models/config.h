// Model configurations, read from and written to JSON (configs/*.json, and the config.json
// beside every checkpoint). Unknown keys are errors that name the key, the file and the
// nearest known key, so a typo never silently falls back to a default.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mod::models {

// CLIP vision transformer (METHOD.md §1).
struct VisionConfig {
    int64_t image_size = 224;
    int64_t patch_size = 14;
    int64_t hidden_size = 1024;
    int64_t num_layers = 24;
    int64_t num_heads = 16;
    int64_t intermediate_size = 4096;
    int64_t select_layer = -2;  // features = output of this block (negative counts from the end)
    double layer_norm_eps = 1e-5;
    std::array<double, 3> image_mean{0.48145466, 0.4578275, 0.40821073};
    std::array<double, 3> image_std{0.26862954, 0.26130258, 0.27577711};
    double init_std = 0.02;

    int64_t num_patches() const { return (image_size / patch_size) * (image_size / patch_size); }
    // Blocks run to produce the selected features.
    int64_t layers_used() const { return select_layer >= 0 ? select_layer : num_layers + 1 + select_layer; }
};

// Qwen2 decoder LM.
struct LMConfig {
    int64_t vocab_size = 151936;
    int64_t hidden_size = 896;
    int64_t num_layers = 24;
    int64_t num_heads = 14;
    int64_t num_kv_heads = 2;
    int64_t intermediate_size = 4864;
    double rope_theta = 1e6;
    double rms_norm_eps = 1e-6;
    bool tie_word_embeddings = true;
    double init_std = 0.02;
};

// Mixture of experts on the student's MLPs after upcycling (METHOD.md §1).
struct MoeConfig {
    int64_t num_experts = 4;
    int64_t top_k = 2;
    std::vector<int64_t> layers;     // LM layers whose MLP becomes an MoE layer
    std::string router_pick = "topk";  // "topk" or "gumbel"
    double capacity_factor = 0.0;      // 0 = dropless
    double aux_coef = 0.01;
    double zloss_coef = 0.0;
};

// One multimodal model: vision encoder -> mlp2x_gelu projector -> LM (dense, or MoE when moe.layers is set).
struct MllmConfig {
    VisionConfig vision;
    LMConfig lm;
    MoeConfig moe;
    bool sparse = false;           // true once upcycled: the MoE layers exist
    int64_t image_token_id = 0;    // the id that marks image positions in input_ids
    // The prompt order it was trained with: the image after the first question's first line
    // rather than before it (data::with_image_tag); chat_mod asks in the same order.
    bool image_after_question = false;
    // ... or right after each shape a question names (data::with_image_after_names).
    bool image_after_names = false;
    // The chat template's system line it was trained with (METHOD.md §3); "" for none. Unset: the
    // template's default line, which every model saved before this key was trained with.
    std::optional<std::string> system_prompt = std::nullopt;
};

// A config file as the configs/ folder holds them: the shared vision encoder, the two LMs
// and the MoE settings of the student.
struct ModelFamilyConfig {
    VisionConfig vision;
    LMConfig student;
    LMConfig teacher;
    MoeConfig moe;

    MllmConfig student_mllm(bool sparse) const;
    MllmConfig teacher_mllm() const;
};

ModelFamilyConfig load_family_config(const std::string& path);
ModelFamilyConfig parse_family_config(const std::string& json_text, const std::string& source);
MllmConfig load_mllm_config(const std::string& path);
MllmConfig parse_mllm_config(const std::string& json_text, const std::string& source);
std::string mllm_config_to_json(const MllmConfig& config);

// Parameter counts from the config alone (nothing allocated): real-scale configs are
// checked against the public checkpoints this way.
int64_t vision_parameter_count(const VisionConfig& c);
int64_t projector_parameter_count(int64_t vision_dim, int64_t lm_dim);
int64_t lm_parameter_count(const LMConfig& c);

struct ParameterCounts {
    int64_t total = 0;
    int64_t activated = 0;  // per token: everything except the experts a token does not use
};
// With sparse = true, the MoE layers hold num_experts SwiGLU experts and a router each;
// a token activates top_k of them.
ParameterCounts mllm_parameter_counts(const MllmConfig& c);

// The MLP width at which a dense student activates as many MLP parameters per token as the
// upcycled MoE student (routers aside): each of the L_moe MoE layers runs top_k experts of the
// dense width I, so width = I * (L + (top_k - 1) * L_moe) / L, rounded to the nearest integer.
int64_t moe_activated_width(const ModelFamilyConfig& c);

}  // namespace mod::models
