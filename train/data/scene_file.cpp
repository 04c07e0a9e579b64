#include "data/scene_file.h"

#include "data/errors.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace mod::data {

std::vector<SceneFile> read_scene_file(const std::string& split_dir, const std::string& who, const std::string& hint) {
    namespace fs = std::filesystem;
    const std::string path = (fs::path(split_dir) / "scenes.jsonl").string();
    std::ifstream in(path);
    if (!in) throw DataError("[" + who + "] " + path + ": cannot open" + (hint.empty() ? "" : " (" + hint + ")"));
    std::vector<SceneFile> scenes;
    std::string text;
    for (int64_t line = 1; std::getline(in, text); ++line) {
        if (text.empty()) continue;
        const std::string where = path + ":" + std::to_string(line);
        try {
            const nlohmann::json j = nlohmann::json::parse(text);
            scenes.push_back({(fs::path(split_dir) / j.at("image").get<std::string>()).string(),
                              scene_from_json(j.at("scene"), where)});
        } catch (const nlohmann::json::exception& e) {
            throw JsonError("[" + who + "] " + where + ": " + e.what());
        }
    }
    if (scenes.empty()) throw DataError("[" + who + "] " + path + ": no scenes");
    return scenes;
}

}  // namespace mod::data
