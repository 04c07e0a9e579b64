// train_mod's configuration: key=value arguments over a JSON config file. The config file
// holds the model family (models/config.h) and, optionally, a "train" object whose keys are
// train_mod keys: defaults that the command line overrides. Every key has a default, so
// `train_mod stage=imitation` alone runs on the built-in world.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/device.h"
#include "models/config.h"

namespace mod::train {

// A curriculum's start: a phase's first `steps` read only the multitask.json questions of these
// task types (their "task" field), then the phase's own data, in one learning-rate schedule.
// One part of a curriculum that starts a phase: `steps` steps on some task types of
// multitask.json alone.
struct FirstPart {
    std::vector<std::string> tasks;
    int64_t steps = 0;
};

struct TrainOptions {
    std::string stage;  // teacher | align | imitation | sft | preference | all
    std::string config_path;
    models::ModelFamilyConfig family;
    std::string data;       // the world folder (generated on first use)
    std::string tokenizer;  // tokenizer.json (trained on the world on first use)
    std::string out;        // the run folder of this stage
    std::string teacher;    // teacher run or model folder
    std::string student;    // imitation run or model folder (preference starts from it)
    std::string resume;     // a run folder to continue
    std::string run_root;   // the folder resume= should name: out, or stage=all's folder for its stages
    std::string phase;      // d2d | d2s | both
    std::vector<std::string> second_phase_data;  // train/ files of imitation's (sft's) second phase
    std::string kd_mask;    // shifted | unshifted
    std::string loss;       // dpo | kto_pair
    Device device;          // where models and batches live
    std::string precision;  // f32 | bf16 (GPU: bf16 products, float32 weights)
    int64_t steps = 0;      // optimizer steps per phase
    int64_t vision_steps = 0;   // stage=teacher: vision pretraining steps before the SFT
    std::string vision_scenes = "train";  // its images: "train" (the world's) or "generated" (new each step)
    int64_t vision_text_percent = -1;     // generated scenes with a text, in percent (-1: the world's share)
    int64_t teacher_steps = 0;  // SFT steps whenever the teacher is trained (0: steps)
    int64_t preference_steps = 0;  // preference distillation's steps (0: steps)
    std::vector<FirstPart> teacher_first;  // teacher_first_tasks, teacher_first_share: the start of the teacher's SFT
    std::vector<FirstPart> student_first;  // student_first_tasks, student_first_share: the start of imitation's (sft's) first phase
    int64_t batch_size = 0;
    int64_t grad_accum = 1;
    int64_t save_every = 0;
    int64_t log_every = 0;
    int64_t threads = 0;
    int64_t max_len = 0;
    int64_t group_by_length = 0;
    int64_t eval_limit = 0;
    int64_t stop_after = 0;
    int64_t world_images = 0;       // the world made on first use: training scenes
    int64_t world_max_objects = 0;  // and the most shapes per scene
    int64_t world_min_objects = 1;  // and the fewest
    int64_t world_text_percent = 0; // and the share of scenes with a text
    int64_t world_vqa_per_image = 0; // and its short-answer questions per scene
    int64_t world_test_images = 0;  // and its held-out scenes
    std::string world_task_weights; // and how often each task type comes up in its training VQA
    bool world_image_after_question = false;  // and where its questions put the image
    bool world_image_after_names = false;
    bool world_reasoned_relations = false;    // and whether its relation answers give their steps
    bool world_compared_relations = false;    // and whether they also say how the two shapes stand along it
    bool world_swapped_negatives = false;     // and whether its existence negatives swap colours between shapes
    std::string system_prompt;  // the chat template's system line a teacher trains with ("" for none)
    bool system_prompt_given = false;  // on the command line: the students' teacher must have it too
    double lr = 0, warmup_ratio = 0, weight_decay = 0, clip = 0, tau = 1, beta = 0.1;
    uint64_t seed = 0;
    bool skip_nonfinite = false;
    bool skip_bad = false;
    bool upcycle = true;  // imitation, sft: MoE student for the second phase
    std::vector<std::pair<std::string, std::string>> resolved;  // every key and its final value

    std::string resolved_json() const;
    // The steps of the teacher SFT and of preference distillation: their own key, else steps.
    int64_t teacher_sft_steps() const { return teacher_steps > 0 ? teacher_steps : steps; }
    int64_t preference_run_steps() const { return preference_steps > 0 ? preference_steps : steps; }
};

// Parses argv (with the config file's "train" defaults). Returns nullopt when --help was
// printed. Throws data::ArgError / ValueError / IOError with one clear line.
std::optional<TrainOptions> parse_train_options(int argc, const char* const* argv);

// The device= key of the programs: "cpu", "cuda" or "cuda:N", checked against the GPUs this
// build can see; a data::ArgError naming `program` otherwise.
Device parse_device_arg(const std::string& text, const char* program);

}  // namespace mod::train
