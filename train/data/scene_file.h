// A split's ground truth as make_world stores it: <split dir>/scenes.jsonl, one {"image", "scene"}
// object per line. Vision pretraining learns from it; eval_mod reads it to tell which object a
// wrong answer describes.
#pragma once

#include "data/scene.h"

#include <string>
#include <vector>

namespace mod::data {

struct SceneFile {
    std::string image_path;  // <split dir>/<"image">
    Scene scene;
};

// Every scene of <split_dir>/scenes.jsonl, in file order. Throws DataError "[who] <path>: cannot
// open" (with `hint` after it) when the file is missing, JsonError naming the line when one is not
// a scene, DataError when the file holds none.
std::vector<SceneFile> read_scene_file(const std::string& split_dir, const std::string& who,
                                       const std::string& hint = "");

}  // namespace mod::data
