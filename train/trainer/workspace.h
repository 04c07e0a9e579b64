// What every stage needs before it trains: the world (generated on first use), the tokenizer
// (trained on the world on first use), and loaders configured from the model's vision config.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/loader.h"
#include "data/world.h"
#include "models/config.h"
#include "text/tokenizer.h"

namespace mod::train {

// Generates a world in data_dir (make_world's defaults but for the given size and
// crowding) when it holds none yet, saying so.
void ensure_world(const data::WorldConfig& config);
// The "config" object of <data_dir>/meta.json, the settings make_world wrote; null when the folder
// has none (data that make_world did not write). Throws JsonError naming the file when it is bad.
nlohmann::json world_meta_config(const std::string& data_dir);
// Loads the tokenizer, training one on the world's training files first when the file is missing.
text::Tokenizer ensure_tokenizer(const std::string& path, const std::string& data_dir, int64_t vocab_limit);

struct LoaderSpec {
    std::vector<std::string> files;  // LLaVA JSON files
    std::vector<std::string> tasks;  // only the samples of these "task" types (empty: all)
    bool preference = false;
    int64_t batch_size = 8;
    uint64_t seed = 0;
    int64_t max_len = 256;
    bool skip_bad = false;
    int64_t group_by_length = 0;  // data::LoaderConfig::group_by_length
    bool one_pass = false;  // every sample once, in file order (no shuffle, no grouping, the short last batch kept)
    int64_t start_epoch = 0, start_position = 0;
};

// "a, b, c": file names and task types in messages.
std::string join_names(const std::vector<std::string>& names);

// Batches for `model`: its image positions and preprocessing, and its chat template.
std::unique_ptr<data::Loader> make_loader(const LoaderSpec& spec, const text::Tokenizer& tok,
                                          const models::MllmConfig& model);

// The chat template a model was trained with: the default one, with the model's system line.
data::ChatTemplate chat_template(const models::MllmConfig& model);

// METHOD.md §1 preprocessing with the vision config's size, mean and std.
data::PreprocessConfig preprocess_config(const models::VisionConfig& vision);

// The model config for this tokenizer and data: image_token_id = the tokenizer's <image> id (the
// LM's vocabulary must hold every token id), and the prompt order of the world in data_dir
// (its meta.json's image_after_question and image_after_names; false without them). Throws JsonError on a bad meta.json.
models::MllmConfig for_data(models::MllmConfig config, const text::Tokenizer& tok, const std::string& data_dir);

}  // namespace mod::train
