#include "trainer/workspace.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "data/errors.h"
#include "data/indexed_samples.h"
#include "data/tokenizer_corpus.h"
#include "data/world.h"

namespace mod::train {

namespace fs = std::filesystem;

nlohmann::json world_meta_config(const std::string& data_dir) {
    const fs::path path = fs::path(data_dir) / "meta.json";
    if (!fs::exists(path)) return nullptr;
    std::ifstream in(path);
    nlohmann::json config;
    try {
        config = nlohmann::json::parse(in).at("config");
    } catch (const nlohmann::json::exception& e) {
        throw data::JsonError("[train_mod] " + path.string() + ": " + e.what());
    }
    if (!config.is_object()) throw data::JsonError("[train_mod] " + path.string() + ": \"config\" is not an object");
    return config;
}

namespace {

// The world keys of an existing world that differ from those asked: the world is used as it
// is, so a changed world_ key takes effect only in a new folder. A key that a world made before
// it lacks has the value such worlds were made with.
std::string world_differences(const nlohmann::json& made, const data::WorldConfig& asked) {
    std::string out;
    auto compare = [&](const char* key, const nlohmann::json& want, const nlohmann::json& before_the_key) {
        const nlohmann::json have = made.value(key, before_the_key);
        if (!have.is_null() && have != want)
            out += std::string(out.empty() ? "" : ", ") + key + " " + have.dump() + " (asked " + want.dump() + ")";
    };
    compare("images", asked.images, nullptr);
    compare("max_objects", asked.max_objects, nullptr);
    compare("min_objects", asked.min_objects, 1);
    compare("text_percent", asked.text_percent, nullptr);
    compare("vqa_per_image", asked.vqa_per_image, nullptr);
    compare("test_images", asked.test_images, nullptr);
    compare("image_after_question", asked.image_after_question, false);
    compare("image_after_names", asked.image_after_names, false);
    compare("reasoned_relations", asked.style.reasoned_relations, false);
    compare("compared_relations", asked.style.compared_relations, false);
    compare("swapped_negatives", asked.style.swapped_negatives, false);
    return out;
}

}  // namespace

void ensure_world(const data::WorldConfig& config) {
    if (fs::exists(fs::path(config.out) / "meta.json")) {
        const std::string differences = world_differences(world_meta_config(config.out), config);
        if (!differences.empty())
            std::fprintf(stderr, "train_mod: using the world in %s as it was made: %s; give data= a new folder to make another\n",
                         config.out.c_str(), differences.c_str());
        return;
    }
    std::fprintf(stderr, "train_mod: no world in %s; generating the built-in world there (first use)...\n",
                 config.out.c_str());
    const data::WorldStats s = data::write_world(config);
    std::fprintf(stderr, "train_mod: world ready: %lld general, %lld multi-task, %lld preference samples\n",
                 static_cast<long long>(s.general), static_cast<long long>(s.multitask),
                 static_cast<long long>(s.preference));
}

text::Tokenizer ensure_tokenizer(const std::string& path, const std::string& data_dir, int64_t vocab_limit) {
    if (!fs::exists(path)) {
        std::fprintf(stderr, "train_mod: no tokenizer at %s; training one on the world (first use)...\n", path.c_str());
        text::BpeTrainConfig config;
        config.vocab_size = static_cast<int>(vocab_limit);
        const std::string train = data_dir + "/train/";
        data::train_tokenizer_on({train + "general.json", train + "multitask.json", train + "preference.json"}, config)
            .save(path);
    }
    return text::Tokenizer::load(path);
}

std::string join_names(const std::vector<std::string>& names) {
    std::string out;
    for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
    return out;
}

std::unique_ptr<data::Loader> make_loader(const LoaderSpec& spec, const text::Tokenizer& tok,
                                          const models::MllmConfig& model) {
    data::LoadOptions load;
    load.skip_bad = spec.skip_bad;
    load.tasks = spec.tasks;
    // Indexed rather than loaded: memory holds 16 bytes a sample, and the data order is the same.
    auto samples = std::make_unique<data::IndexedSamples>(
        spec.files, spec.preference ? data::SampleKind::preference : data::SampleKind::conversation, load);
    if (!spec.tasks.empty() && samples->size() == 0)
        throw ValueError(detail::format_error("train_mod", join_names(spec.files), ": no sample whose \"task\" is one of ",
                                              join_names(spec.tasks)));
    data::LoaderConfig config;
    config.batch_size = spec.batch_size;
    config.seed = spec.seed;
    config.skip_bad = spec.skip_bad;
    config.shuffle = !spec.one_pass;
    config.group_by_length = spec.one_pass ? 0 : spec.group_by_length;
    config.drop_last = !spec.one_pass;  // equal batches: steady step times and exact resume arithmetic
    config.start_epoch = spec.start_epoch;
    config.start_position = spec.start_position;
    config.sequence.image_tokens = model.vision.num_patches();
    config.sequence.max_len = spec.max_len;
    config.sequence.chat = chat_template(model);
    config.image = preprocess_config(model.vision);
    return std::make_unique<data::Loader>(std::move(samples), tok, config);
}

data::ChatTemplate chat_template(const models::MllmConfig& model) {
    data::ChatTemplate chat;
    if (model.system_prompt) chat.system = *model.system_prompt;
    return chat;
}

data::PreprocessConfig preprocess_config(const models::VisionConfig& vision) {
    data::PreprocessConfig pre;
    pre.size = static_cast<int>(vision.image_size);
    for (int c = 0; c < 3; ++c) {
        pre.mean[c] = static_cast<float>(vision.image_mean[c]);
        pre.std[c] = static_cast<float>(vision.image_std[c]);
    }
    return pre;
}

models::MllmConfig for_data(models::MllmConfig config, const text::Tokenizer& tok, const std::string& data_dir) {
    MOD_CHECK(tok.vocab_size() <= config.lm.vocab_size, ValueError, "train_mod", "an LM vocabulary of at least ",
              tok.vocab_size(), " (the tokenizer's) expected, got vocab_size ", config.lm.vocab_size,
              "; raise vocab_size in the config");
    config.image_token_id = tok.require_id(text::kImageToken);
    const nlohmann::json world = world_meta_config(data_dir);
    if (world.is_object()) {
        // Worlds made before a key existed: false.
        auto flag = [&](const char* key) {
            const nlohmann::json v = world.value(key, nlohmann::json(false));
            if (!v.is_boolean())
                throw data::JsonError("[train_mod] " + (fs::path(data_dir) / "meta.json").string() + ": config." + key +
                                      " is not true or false");
            return v.get<bool>();
        };
        config.image_after_question = flag("image_after_question");
        config.image_after_names = flag("image_after_names");
    }
    return config;
}

}  // namespace mod::train
