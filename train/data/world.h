// The world generator: renders seeded scenes and writes a LLaVA-format dataset folder.
//
//   <out>/meta.json                 the config and the counts
//   <out>/train/images/NNN/NNNNNN.png
//   <out>/train/scenes.jsonl        {"image", "scene"} per line: the ground truth
//   <out>/train/general.json        detailed captions and multi-turn conversations
//   <out>/train/multitask.json      short-answer VQA (field "task" names the type)
//   <out>/train/preference.json     {"id", "image", "chosen", "rejected", "kind"}
//   <out>/test/images/..., test/scenes.jsonl
//   <out>/test/vqa.json             held-out per-task questions
//   <out>/test/pope_{random,popular,adversarial}.json
//   <out>/test/chair.json           {"id", "image", "prompt", "objects", "scene"}
//
// Image paths in the JSON are relative to the JSON file's folder. Everything is streamed: memory
// does not grow with the number of images. Same config and seed -> byte-identical files.
#pragma once

#include "data/tasks.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mod::data {

struct WorldConfig {
    std::string out;
    uint64_t seed = 0;
    int64_t images = 2000;        // training scenes
    int64_t test_images = 200;    // held-out scenes
    int image_size = 64;
    int max_objects = 6;
    int min_objects = 1;          // fewest shapes per scene (2: every scene can pose a relation)
    int text_percent = 25;        // scenes with a text object
    int general_per_image = 1;    // captions or conversations per training scene
    int conversation_percent = 50;  // of the general samples: multi-turn rather than one caption
    int vqa_per_image = 2;
    // How often each task type comes up among the training VQA samples, as "relation=3,position=2"
    // (types not named weigh 1; empty: all alike). A slot whose type the scene cannot pose (text
    // without a text object, relation with one shape) takes one of the others that every scene
    // can. The held-out questions stay even, so that per-type accuracies keep their meaning.
    std::string task_weights;
    int64_t preference_pairs = 1000;
    int caption_pair_percent = 70;  // of the pairs: captions rather than short answers
    int test_vqa_per_image = 3;
    int pope_per_side = 3;        // present (and as many absent) shapes probed per test scene
    int64_t images_per_folder = 1000;
    // Where the first question of every sample puts the image: after its first line rather than
    // before it (data::with_image_tag). meta.json records it; train_mod hands it to the models
    // it makes, so that chat_mod asks in the same order.
    bool image_after_question = false;
    // The first question of every sample puts the image right after each shape it names (with_image_after_names),
    // twice in a relation question, and after the question where it names none. meta.json records
    // it and the models take it, as above.
    bool image_after_names = false;
    // How relation answers and existence negatives are worded (data::QuestionStyle).
    QuestionStyle style;
};

struct WorldStats {
    int64_t general = 0, multitask = 0, preference = 0, test_vqa = 0, pope = 0, chair = 0;
};

// Throws DataError on a bad config or an unwritable folder.
WorldStats write_world(const WorldConfig& config);

// The weight of each of vqa_task_names() from a task_weights string. Throws DataError that quotes
// the spec and names an unknown task type, a weight outside 0-100 or a spec whose weights are all 0.
std::vector<int> parse_task_weights(const std::string& spec);

}  // namespace mod::data
