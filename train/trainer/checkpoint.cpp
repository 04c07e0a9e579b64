#include "trainer/checkpoint.h"

#include <filesystem>

#include "core/file_io.h"
#include "models/safetensors.h"

namespace mod::train {

namespace fs = std::filesystem;

bool is_model_dir(const std::string& dir) {
    return fs::exists(fs::path(dir) / "model.safetensors") && fs::exists(fs::path(dir) / "config.json");
}

void save_model(const std::string& dir, const models::LlavaModel& model, const text::Tokenizer& tokenizer) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    MOD_CHECK(!ec, IOError, "save_model", dir, ": cannot create the folder (", ec.message(), ")");
    save_safetensors((fs::path(dir) / "model.safetensors").string(), model.state_dict(), {{"format", "pt"}});
    write_file_atomic((fs::path(dir) / "config.json").string(), models::mllm_config_to_json(model.config));
    write_file_atomic((fs::path(dir) / "tokenizer.json").string(), tokenizer.to_json().dump(2) + "\n");
}

LoadedModel load_model(const std::string& dir) {
    MOD_CHECK(is_model_dir(dir), IOError, "load_model", dir,
              ": a model folder expected (model.safetensors and config.json); train one with train_mod");
    models::MllmConfig config = models::load_mllm_config((fs::path(dir) / "config.json").string());
    text::Tokenizer tok = text::Tokenizer::load((fs::path(dir) / "tokenizer.json").string());
    Generator gen(0);  // every weight is overwritten by the checkpoint
    auto model = std::make_shared<models::LlavaModel>(config, gen);
    load_weights(dir, *model);
    return {model, std::move(tok)};
}

void load_weights(const std::string& dir, models::LlavaModel& model) {
    model.load_state_dict(load_safetensors((fs::path(dir) / "model.safetensors").string()).tensors);
}

}  // namespace mod::train
