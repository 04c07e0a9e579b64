// Model checkpoints: a folder with the weights, the model config and the tokenizer, each
// written atomically (temporary file, flush, rename), so a crash never leaves a half-written
// file under a real name:
//   <dir>/model.safetensors   every parameter, Hugging Face names
//   <dir>/config.json         the MllmConfig (models/config.h)
//   <dir>/tokenizer.json      the tokenizer the model was trained with
// Training state (optimizer, data order, step) sits beside them: see trainer/train_state.h.
#pragma once

#include <memory>
#include <string>

#include "core/file_io.h"
#include "models/mllm.h"
#include "text/tokenizer.h"

namespace mod::train {

void save_model(const std::string& dir, const models::LlavaModel& model, const text::Tokenizer& tokenizer);

struct LoadedModel {
    std::shared_ptr<models::LlavaModel> model;
    text::Tokenizer tokenizer;
};

// Throws IOError naming the folder and the missing or bad file.
LoadedModel load_model(const std::string& dir);
// Copies the checkpoint's weights in dir into an existing model of the same config (strict).
void load_weights(const std::string& dir, models::LlavaModel& model);
// True when dir holds model.safetensors and config.json.
bool is_model_dir(const std::string& dir);

}  // namespace mod::train
