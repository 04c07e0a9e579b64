#include "models/config.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/file_io.h"
#include "core/suggest.h"

namespace mod::models {

namespace {

using json = nlohmann::json;

// Reads the keys of one JSON object into a struct, remembering which keys were used, so
// that finish() can reject the rest by name.
class ObjectReader {
public:
    ObjectReader(const json& obj, std::string where) : obj_(obj), where_(std::move(where)) {
        MOD_CHECK(obj.is_object(), ValueError, "config", where_, ": a JSON object expected, got ", obj.type_name());
    }

    template <typename T>
    void get(const std::string& key, T& out) {
        known_.push_back(key);
        if (!obj_.contains(key)) return;
        used_.insert(key);
        try {
            out = obj_.at(key).get<T>();
        } catch (const json::exception&) {
            throw ValueError(detail::format_error("config", where_, ": key '", key, "' has the wrong type (",
                                                  obj_.at(key).type_name(), ")"));
        }
    }

    // An optional key: left unset when the object lacks it.
    template <typename T>
    void get(const std::string& key, std::optional<T>& out) {
        if (!obj_.contains(key)) {
            known_.push_back(key);
            return;
        }
        T value;
        get(key, value);
        out = std::move(value);
    }

    const json* object(const std::string& key) {
        known_.push_back(key);
        if (!obj_.contains(key)) return nullptr;
        used_.insert(key);
        return &obj_.at(key);
    }

    void finish() const {
        for (const auto& [key, value] : obj_.items()) {
            if (used_.count(key)) continue;
            // Farther than about half the word's length is no useful hint.
            std::string hint = nearest(key, known_, std::max<size_t>(3, key.size() / 2));
            throw ValueError(detail::format_error("config", where_, ": unknown key '", key, "'",
                                                  hint.empty() ? "" : " (did you mean '" + hint + "'?)"));
        }
    }

private:
    const json& obj_;
    std::string where_;
    std::set<std::string> used_;
    std::vector<std::string> known_;
};

json parse_json(const std::string& text, const std::string& source) {
    try {
        return json::parse(text);
    } catch (const json::parse_error& e) {
        // Turn the byte offset into line:column, which is what an editor shows.
        size_t line = 1, col = 1;
        for (size_t i = 0; i + 1 < e.byte && i < text.size(); ++i) {
            if (text[i] == '\n') {
                ++line;
                col = 1;
            } else {
                ++col;
            }
        }
        throw IOError(detail::format_error("config", source, ":", line, ":", col, ": malformed JSON"));
    }
}

VisionConfig read_vision(const json& j, const std::string& where) {
    VisionConfig c;
    ObjectReader r(j, where);
    r.get("image_size", c.image_size);
    r.get("patch_size", c.patch_size);
    r.get("hidden_size", c.hidden_size);
    r.get("num_layers", c.num_layers);
    r.get("num_heads", c.num_heads);
    r.get("intermediate_size", c.intermediate_size);
    r.get("select_layer", c.select_layer);
    r.get("layer_norm_eps", c.layer_norm_eps);
    r.get("image_mean", c.image_mean);
    r.get("image_std", c.image_std);
    r.get("init_std", c.init_std);
    r.finish();
    MOD_CHECK(c.patch_size > 0 && c.image_size % c.patch_size == 0, ValueError, "config", where,
              ": image_size a multiple of patch_size expected, got ", c.image_size, " and ", c.patch_size);
    MOD_CHECK(c.num_heads > 0 && c.hidden_size % c.num_heads == 0, ValueError, "config", where,
              ": hidden_size divisible by num_heads expected");
    MOD_CHECK(c.layers_used() >= 1 && c.layers_used() <= c.num_layers, ValueError, "config", where,
              ": select_layer within the ", c.num_layers, " layers expected, got ", c.select_layer);
    return c;
}

LMConfig read_lm(const json& j, const std::string& where) {
    LMConfig c;
    ObjectReader r(j, where);
    r.get("vocab_size", c.vocab_size);
    r.get("hidden_size", c.hidden_size);
    r.get("num_layers", c.num_layers);
    r.get("num_heads", c.num_heads);
    r.get("num_kv_heads", c.num_kv_heads);
    r.get("intermediate_size", c.intermediate_size);
    r.get("rope_theta", c.rope_theta);
    r.get("rms_norm_eps", c.rms_norm_eps);
    r.get("tie_word_embeddings", c.tie_word_embeddings);
    r.get("init_std", c.init_std);
    r.finish();
    MOD_CHECK(c.num_heads > 0 && c.num_kv_heads > 0 && c.hidden_size % c.num_heads == 0 &&
                  c.num_heads % c.num_kv_heads == 0 && (c.hidden_size / c.num_heads) % 2 == 0,
              ValueError, "config", where,
              ": hidden_size divisible by num_heads, num_heads by num_kv_heads, and an even head dim expected");
    return c;
}

MoeConfig read_moe(const json& j, const std::string& where, int64_t num_layers) {
    MoeConfig c;
    ObjectReader r(j, where);
    r.get("num_experts", c.num_experts);
    r.get("top_k", c.top_k);
    r.get("router_pick", c.router_pick);
    r.get("capacity_factor", c.capacity_factor);
    r.get("aux_coef", c.aux_coef);
    r.get("zloss_coef", c.zloss_coef);
    std::string every = "every_other";
    if (const json* layers = r.object("moe_layers")) {
        if (layers->is_string()) {
            every = layers->get<std::string>();
        } else {
            try {
                c.layers = layers->get<std::vector<int64_t>>();
            } catch (const json::exception&) {
                throw ValueError(detail::format_error("config", where,
                                                      ": moe_layers: a list of layer numbers, \"every_other\" or "
                                                      "\"all\" expected"));
            }
            every.clear();
        }
    }
    r.finish();
    if (every == "every_other" || every == "all") {
        for (int64_t i = 0; i < num_layers; i += every == "all" ? 1 : 2) c.layers.push_back(i);
    } else {
        MOD_CHECK(every.empty(), ValueError, "config", where, ": moe_layers \"every_other\" or \"all\" expected, got \"",
                  every, "\"");
    }
    for (int64_t l : c.layers)
        MOD_CHECK(l >= 0 && l < num_layers, ValueError, "config", where, ": moe_layers within [0, ", num_layers,
                  ") expected, got ", l);
    MOD_CHECK(c.num_experts >= 1 && c.top_k >= 1 && c.top_k <= c.num_experts, ValueError, "config", where,
              ": 1 <= top_k <= num_experts expected, got top_k ", c.top_k, " and num_experts ", c.num_experts);
    MOD_CHECK(c.router_pick == "topk" || c.router_pick == "gumbel", ValueError, "config", where,
              ": router_pick \"topk\" or \"gumbel\" expected, got \"", c.router_pick, "\"");
    MOD_CHECK(c.capacity_factor >= 0.0, ValueError, "config", where, ": capacity_factor >= 0 expected");
    return c;
}

json vision_json(const VisionConfig& c) {
    return {{"image_size", c.image_size},     {"patch_size", c.patch_size},
            {"hidden_size", c.hidden_size},   {"num_layers", c.num_layers},
            {"num_heads", c.num_heads},       {"intermediate_size", c.intermediate_size},
            {"select_layer", c.select_layer}, {"layer_norm_eps", c.layer_norm_eps},
            {"image_mean", c.image_mean},     {"image_std", c.image_std},
            {"init_std", c.init_std}};
}

json lm_json(const LMConfig& c) {
    return {{"vocab_size", c.vocab_size},
            {"hidden_size", c.hidden_size},
            {"num_layers", c.num_layers},
            {"num_heads", c.num_heads},
            {"num_kv_heads", c.num_kv_heads},
            {"intermediate_size", c.intermediate_size},
            {"rope_theta", c.rope_theta},
            {"rms_norm_eps", c.rms_norm_eps},
            {"tie_word_embeddings", c.tie_word_embeddings},
            {"init_std", c.init_std}};
}

json moe_json(const MoeConfig& c) {
    return {{"num_experts", c.num_experts},         {"top_k", c.top_k},
            {"moe_layers", c.layers},               {"router_pick", c.router_pick},
            {"capacity_factor", c.capacity_factor}, {"aux_coef", c.aux_coef},
            {"zloss_coef", c.zloss_coef}};
}

}  // namespace

// The other fields keep their defaults until a run sets them (train::for_data, the system line).
MllmConfig ModelFamilyConfig::student_mllm(bool sparse) const { return {vision, student, moe, sparse}; }
MllmConfig ModelFamilyConfig::teacher_mllm() const { return {vision, teacher, MoeConfig{}, false}; }

ModelFamilyConfig parse_family_config(const std::string& text, const std::string& source) {
    json j = parse_json(text, source);
    ModelFamilyConfig c;
    ObjectReader r(j, source);
    const json* vision = r.object("vision");
    const json* student = r.object("student");
    const json* teacher = r.object("teacher");
    const json* moe = r.object("moe");
    r.object("train");  // train_mod's defaults, read by train_mod itself (train/trainer/options.cpp)
    r.finish();
    MOD_CHECK(vision && student && teacher, ValueError, "config", source,
              ": the keys 'vision', 'student' and 'teacher' expected");
    c.vision = read_vision(*vision, source + ": vision");
    c.student = read_lm(*student, source + ": student");
    c.teacher = read_lm(*teacher, source + ": teacher");
    c.moe = read_moe(moe ? *moe : json::object(), source + ": moe", c.student.num_layers);
    // The two LMs share the tokenizer, but their embedding tables may be padded to different
    // sizes (Qwen2-0.5B: 151936 rows, Qwen2-7B: 152064); distillation compares the shared ids.
    return c;
}

ModelFamilyConfig load_family_config(const std::string& path) { return parse_family_config(read_text_file(path, "config"), path); }

MllmConfig parse_mllm_config(const std::string& text, const std::string& source) {
    json j = parse_json(text, source);
    MllmConfig c;
    ObjectReader r(j, source);
    const json* vision = r.object("vision");
    const json* lm = r.object("lm");
    const json* moe = r.object("moe");
    r.get("sparse", c.sparse);
    r.get("image_token_id", c.image_token_id);
    r.get("image_after_question", c.image_after_question);
    r.get("image_after_names", c.image_after_names);
    r.get("system_prompt", c.system_prompt);
    r.finish();
    MOD_CHECK(vision && lm, ValueError, "config", source, ": the keys 'vision' and 'lm' expected");
    c.vision = read_vision(*vision, source + ": vision");
    c.lm = read_lm(*lm, source + ": lm");
    c.moe = read_moe(moe ? *moe : json::object(), source + ": moe", c.lm.num_layers);
    return c;
}

MllmConfig load_mllm_config(const std::string& path) { return parse_mllm_config(read_text_file(path, "config"), path); }

std::string mllm_config_to_json(const MllmConfig& c) {
    json j = {{"vision", vision_json(c.vision)},
              {"lm", lm_json(c.lm)},
              {"moe", moe_json(c.moe)},
              {"sparse", c.sparse},
              {"image_token_id", c.image_token_id},
              {"image_after_question", c.image_after_question},
              {"image_after_names", c.image_after_names}};
    if (c.system_prompt) j["system_prompt"] = *c.system_prompt;
    return j.dump(2) + "\n";
}

int64_t vision_parameter_count(const VisionConfig& c) {
    const int64_t D = c.hidden_size, F = c.intermediate_size;
    const int64_t embeddings = D * 3 * c.patch_size * c.patch_size + D + (c.num_patches() + 1) * D;
    const int64_t layer = 4 * (D * D + D) + (D * F + F) + (F * D + D) + 2 * 2 * D;
    return embeddings + 2 * D /* pre_layrnorm */ + c.num_layers * layer + 2 * D /* post_layernorm */;
}

int64_t projector_parameter_count(int64_t vision_dim, int64_t lm_dim) {
    return (vision_dim * lm_dim + lm_dim) + (lm_dim * lm_dim + lm_dim);
}

namespace {
int64_t lm_attention_params(const LMConfig& c) {
    const int64_t D = c.hidden_size, Dh = D / c.num_heads, kv = c.num_kv_heads * Dh;
    return (D * D + D) + 2 * (D * kv + kv) + D * D;
}
int64_t swiglu_params(const LMConfig& c) { return 3 * c.hidden_size * c.intermediate_size; }
}  // namespace

int64_t lm_parameter_count(const LMConfig& c) {
    const int64_t D = c.hidden_size;
    const int64_t layer = lm_attention_params(c) + swiglu_params(c) + 2 * D;
    const int64_t head = c.tie_word_embeddings ? 0 : c.vocab_size * D;
    return c.vocab_size * D + c.num_layers * layer + D + head;
}

ParameterCounts mllm_parameter_counts(const MllmConfig& c) {
    const int64_t dense = vision_parameter_count(c.vision) +
                          projector_parameter_count(c.vision.hidden_size, c.lm.hidden_size) + lm_parameter_count(c.lm);
    if (!c.sparse) return {dense, dense};
    const int64_t n = static_cast<int64_t>(c.moe.layers.size());
    const int64_t router = c.lm.hidden_size * c.moe.num_experts;
    const int64_t expert = swiglu_params(c.lm);
    // Each MoE layer trades its dense MLP for E experts and a router; a token uses K experts.
    const int64_t total = dense + n * (router + (c.moe.num_experts - 1) * expert);
    const int64_t activated = dense + n * (router + (c.moe.top_k - 1) * expert);
    return {total, activated};
}

int64_t moe_activated_width(const ModelFamilyConfig& c) {
    const int64_t L = c.student.num_layers;
    const auto moe_layers = static_cast<int64_t>(c.moe.layers.size());
    const int64_t units = c.student.intermediate_size * (L + (c.moe.top_k - 1) * moe_layers);
    return (units + L / 2) / L;
}

}  // namespace mod::models
