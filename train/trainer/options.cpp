#include "trainer/options.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "data/args.h"
#include "data/chat_template.h"
#include "data/errors.h"
#include "data/world.h"
#include "core/file_io.h"
#include "cuda/memory.h"
#include "trainer/checkpoint.h"

namespace mod::train {

namespace {

void declare(data::KeyValueArgs& a) {
    a.add("stage", "", "teacher | align | imitation | sft | preference | all (required, unless resume= names a run)");
    a.add("config", "configs/quickstart.json", "model family config (JSON); its \"train\" object sets defaults");
    a.add("data", "data/world", "world folder; generated on first use (see the world_ keys)");
    a.add("world_images", "2000", "training scenes of a world generated on first use");
    a.add("world_max_objects", "6", "most shapes per scene of a world generated on first use (1-8)");
    a.add("world_min_objects", "1", "fewest shapes per scene of a world generated on first use (1-world_max_objects)");
    a.add("world_text_percent", std::to_string(data::WorldConfig{}.text_percent),
          "percent of the scenes with a text, in a world generated on first use");
    a.add("world_vqa_per_image", std::to_string(data::WorldConfig{}.vqa_per_image),
          "short-answer questions per training scene (multitask.json), in a world generated on first use");
    a.add("world_test_images", std::to_string(data::WorldConfig{}.test_images),
          "held-out scenes (test questions, POPE, CHAIR), in a world generated on first use");
    a.add("world_task_weights", "", "how often each task type comes up in the training VQA of a world generated on first use, e.g. relation=3 (others 1)");
    a.add("world_image_after_question", "false",
          "put the image after each first question rather than before it, in a world generated on first use");
    a.add("world_image_after_names", "false",
          "put the image right after each shape a question names (twice in a relation question), in a world generated on first use");
    a.add("world_reasoned_relations", data::QuestionStyle{}.reasoned_relations ? "true" : "false",
          "answer relation questions with each shape's column or row, then yes or no, in a world generated on first use");
    a.add("world_compared_relations", data::QuestionStyle{}.compared_relations ? "true" : "false",
          "with world_reasoned_relations: a last step says how the two shapes stand along that line "
          "(\"so the red circle is to the left of the blue square\"), then yes or no, in a world generated on first use");
    a.add("world_swapped_negatives", data::QuestionStyle{}.swapped_negatives ? "true" : "false",
          "negative existence questions name one shape's colour with another's kind, in a world generated on first use");
    a.add("system_prompt", data::kDefaultSystem,
          "the chat template's system line (METHOD.md §3) a teacher trains with, kept in its config.json; "
          "its students, eval_mod and chat_mod use the same (empty: none)");
    a.add("tokenizer", "", "tokenizer.json; default <data>/tokenizer.json, trained on the world on first use");
    a.add("out", "", "run folder; default runs/<stage>");
    a.add("teacher", "runs/teacher", "teacher run or model folder (made by stage=teacher when missing)");
    a.add("student", "runs/imitation", "imitation run or model folder that preference starts from");
    a.add("resume", "", "run folder to continue exactly where it stopped");
    a.add("phase", "both", "imitation (sft) phases: d2d (general data) | d2s (multi-task data) | both");
    a.add("upcycle", "true", "imitation, sft: upcycle the dense student to MoE before the second phase (false: stays dense)");
    a.add("second_phase_data", "multitask.json",
          "imitation, sft: files of the data folder's train/ that the second phase (dense-to-sparse) reads, a comma list");
    a.add("student_intermediate_size", "0",
          "MLP width of the student made by imitation or sft (0: the config's; moe: the MoE student's activated width)");
    a.add("kd_mask", "shifted", "KD positions: shifted (as CE) | unshifted (the public code)");
    a.add("tau", "1", "distillation temperature (loss scaled by tau^2)");
    a.add("loss", "dpo", "preference loss: dpo | kto_pair");
    a.add("beta", "0.1", "preference beta");
    a.add("steps", "400", "optimizer steps per phase");
    a.add("teacher_steps", "0", "optimizer steps of the teacher SFT, by stage=teacher or when a stage makes its teacher (0: steps)");
    a.add("preference_steps", "0", "optimizer steps of preference distillation (0: steps)");
    a.add("teacher_first_tasks", "",
          "stage=teacher: parts that start the SFT, in order (comma list; a part's task types joined by +, e.g. "
          "existence,text): each reads only those questions of multitask.json, within the one lr schedule (empty: none)");
    a.add("teacher_first_share", "0", "stage=teacher: share of the SFT steps for each part of teacher_first_tasks (comma list, one per part)");
    a.add("student_first_tasks", "",
          "imitation, sft: parts that start the first phase before general.json, as teacher_first_tasks (empty: none)");
    a.add("student_first_share", "0", "imitation, sft: share of the first phase's steps for each part of student_first_tasks");
    a.add("vision_steps", "0", "stage=teacher: steps of vision pretraining on the world's scene truth first, the encoder then frozen (0: none)");
    a.add("vision_scenes", "train", "vision pretraining's images: train (the world's training images) or generated (new scenes of the world's kind each step)");
    a.add("vision_text_percent", "-1", "vision_scenes=generated: percent of its scenes with a text (-1: the world's share)");
    a.add("batch_size", "16", "samples (pairs for preference) per micro-batch");
    a.add("grad_accum", "1", "micro-batches per optimizer step");
    a.add("lr", "1e-3", "peak learning rate (preference: a tenth of it unless set)");
    a.add("warmup_ratio", "0.03", "share of steps with linear warmup");
    a.add("weight_decay", "0", "AdamW decoupled weight decay");
    a.add("clip", "1.0", "global gradient-norm clip (0: off)");
    a.add("seed", "0", "seed of initialisation, data order and routing noise");
    a.add("save_every", "200", "checkpoint every N steps (and at the end)");
    a.add("log_every", "10", "metrics line every N steps");
    a.add("max_len", "256", "longest sequence in tokens");
    a.add("group_by_length", "0", "batches of similar length: sort windows of N batches of the shuffled order by length (0: off; less padding, faster steps)");
    a.add("threads", "0", "CPU threads (0: all cores)");
    a.add("skip_nonfinite", "false", "skip a batch whose loss is NaN or infinite instead of stopping");
    a.add("skip_bad", "false", "skip bad samples (missing images, ...) and count them");
    a.add("eval_limit", "200", "stage=all: samples per eval split (0: all)");
    a.add("stop_after", "0", "stop with a checkpoint after this many steps of this invocation (0: run to the end)");
    a.add("device", "cpu", "cpu, cuda or cuda:N (a build with CUDA and a visible GPU)");
    a.add("precision", "f32", "f32, or bf16 on a GPU: bf16 matrix products, float32 weights and optimizer state");
}

// The config file's "train" object: defaults for train_mod keys.
void apply_config_defaults(data::KeyValueArgs& a, const std::string& path) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(read_text_file(path));
    } catch (const nlohmann::json::parse_error&) {
        return;  // load_family_config reports malformed JSON with line and column
    }
    if (!j.is_object() || !j.contains("train")) return;
    for (const auto& [key, value] : j["train"].items())
        a.set_default(key, value.is_string() ? value.get<std::string>() : value.dump());
}

// `<who>_first_tasks` and `<who>_first_share`: parts in order, each a share of a phase's
// `steps` (so that it scales with them), rounded at the parts' cumulative ends; at least one
// step of the phase's own data follows them.
std::vector<FirstPart> first_parts(const data::KeyValueArgs& a, const std::string& who, int64_t steps) {
    const std::string share_key = who + "_first_share", tasks_key = who + "_first_tasks";
    const std::vector<std::string> parts = a.get_list(tasks_key);
    std::vector<std::string> shares = a.get_list(share_key);
    if (parts.empty() && shares == std::vector<std::string>{"0"}) shares.clear();  // the default: no parts
    if (parts.size() != shares.size())
        throw data::ArgError("[train_mod] " + share_key + " and " + tasks_key + " go together: one share of the " + who +
                             "'s first-phase steps for each part (" + std::to_string(parts.size()) + " parts, " +
                             std::to_string(shares.size()) + " shares)");
    std::vector<FirstPart> out;
    double cumulative = 0;
    int64_t end = 0;
    for (size_t i = 0; i < parts.size(); ++i) {
        double share = 0;
        try {
            size_t used = 0;
            share = std::stod(shares[i], &used);
            if (used != shares[i].size()) throw std::invalid_argument("trailing characters");
        } catch (const std::exception&) {
            throw data::ArgError("[train_mod] " + share_key + "=" + shares[i] + ": a number expected");
        }
        cumulative += share;
        if (!(share > 0) || cumulative > 0.99)
            throw data::ArgError("[train_mod] " + share_key + ": each share above 0, together at most 0.99 (got " +
                                 a.get(share_key) + ")");
        FirstPart part;
        for (size_t from = 0; from <= parts[i].size();) {
            const size_t plus = std::min(parts[i].find('+', from), parts[i].size());
            if (plus == from) throw data::ArgError("[train_mod] " + tasks_key + "=" + a.get(tasks_key) + ": an empty task type");
            part.tasks.push_back(parts[i].substr(from, plus - from));
            from = plus + 1;
        }
        const int64_t part_end = std::min<int64_t>(steps - 1, std::llround(cumulative * static_cast<double>(steps)));
        part.steps = part_end - end;
        end = part_end;
        out.push_back(std::move(part));
    }
    return out;
}

}  // namespace

std::optional<TrainOptions> parse_train_options(int argc, const char* const* argv) {
    data::KeyValueArgs a("train_mod",
                         "LLaVA-MoD distillation: dense teacher SFT, imitation (dense-to-dense, then dense-to-sparse), "
                         "preference distillation.");
    declare(a);
    if (!a.parse(argc, argv)) {
        std::fputs(a.help().c_str(), stdout);
        return std::nullopt;
    }
    const std::vector<std::string> stages = {"teacher", "align", "imitation", "sft", "preference", "all"};
    if (a.was_given("stage")) a.get_choice("stage", stages);  // a typo is reported before any file is read
    // Precedence: the command line, then (with resume=) the run's saved configuration, then the
    // config file's "train" object, then the built-in defaults. A resumed run thus keeps its
    // steps, lr, seed, ... without repeating them, which exact resumption needs. The saved
    // configuration holds every key the run knew, so a key it lacks was added since: it keeps
    // its built-in default, the behaviour the run was made with, whatever the config file says.
    nlohmann::json saved;
    if (a.was_given("resume")) {
        const std::string path = a.get("resume") + "/train_config.json";
        try {
            saved = nlohmann::json::parse(read_text_file(path, "resume"));
        } catch (const nlohmann::json::parse_error&) {
            throw IOError(detail::format_error("resume", path, ": malformed JSON"));
        }
        if (!a.was_given("config") && saved.contains("config")) a.set_default("config", saved["config"].get<std::string>());
    }
    TrainOptions o;
    o.config_path = a.get("config");
    if (saved.is_null()) apply_config_defaults(a, o.config_path);
    for (const auto& [key, value] : saved.items())
        if (key.rfind("resolved_", 0) != 0 && key != "resume" && key != "stop_after" && value.is_string())
            a.set_default(key, value.get<std::string>());
    o.stage = a.get_choice("stage", stages);
    o.family = models::load_family_config(o.config_path);
    o.data = a.get("data");
    o.tokenizer = a.get("tokenizer").empty() ? o.data + "/tokenizer.json" : a.get("tokenizer");
    o.out = a.get("out").empty() ? "runs/" + o.stage : a.get("out");
    o.teacher = a.get("teacher");
    o.student = a.get("student");
    o.resume = a.get("resume");
    if (!o.resume.empty() && !a.was_given("out")) o.out = o.resume;
    o.run_root = o.out;
    o.phase = a.get_choice("phase", {"d2d", "d2s", "both"});
    o.upcycle = a.get_bool("upcycle");
    if (const std::string width = a.get("student_intermediate_size"); width == "moe") {
        o.family.student.intermediate_size = models::moe_activated_width(o.family);
    } else if (width.empty() || width.find_first_not_of("0123456789") != std::string::npos) {
        throw data::ArgError("[train_mod] student_intermediate_size=" + width + ": a width (integer) or moe expected");
    } else if (const int64_t w = a.get_int("student_intermediate_size", 0, int64_t(1) << 30); w > 0) {
        o.family.student.intermediate_size = w;
    }
    o.second_phase_data = a.get_list("second_phase_data");
    if (o.second_phase_data.empty())
        throw data::ArgError("[train_mod] second_phase_data: at least one file of the data folder's train/ expected");
    o.kd_mask = a.get_choice("kd_mask", {"shifted", "unshifted"});
    o.loss = a.get_choice("loss", {"dpo", "kto_pair"});
    o.tau = a.get_double("tau", 1e-3, 1e3);
    o.beta = a.get_double("beta", 1e-6, 1e3);
    o.steps = a.get_int("steps", 1, int64_t(1) << 40);
    o.vision_steps = a.get_int("vision_steps", 0, int64_t(1) << 40);
    o.vision_scenes = a.get_choice("vision_scenes", {"train", "generated"});
    o.vision_text_percent = a.get_int("vision_text_percent", -1, 100);
    o.teacher_steps = a.get_int("teacher_steps", 0, int64_t(1) << 40);
    o.preference_steps = a.get_int("preference_steps", 0, int64_t(1) << 40);
    o.teacher_first = first_parts(a, "teacher", o.teacher_sft_steps());
    o.student_first = first_parts(a, "student", o.steps);
    o.batch_size = a.get_int("batch_size", 1, 1 << 20);
    o.grad_accum = a.get_int("grad_accum", 1, 1 << 20);
    o.lr = a.get_double("lr", 0.0, 10.0);
    o.warmup_ratio = a.get_double("warmup_ratio", 0.0, 1.0);
    o.weight_decay = a.get_double("weight_decay", 0.0, 10.0);
    o.clip = a.get_double("clip", 0.0, 1e9);
    o.seed = a.get_u64("seed");
    o.save_every = a.get_int("save_every", 1, int64_t(1) << 40);
    o.log_every = a.get_int("log_every", 1, int64_t(1) << 40);
    o.max_len = a.get_int("max_len", 8, 1 << 20);
    o.group_by_length = a.get_int("group_by_length", 0, 1 << 20);
    o.threads = a.get_int("threads", 0, 4096);
    o.skip_nonfinite = a.get_bool("skip_nonfinite");
    o.skip_bad = a.get_bool("skip_bad");
    o.eval_limit = a.get_int("eval_limit", 0, int64_t(1) << 40);
    o.stop_after = a.get_int("stop_after", 0, int64_t(1) << 40);
    o.world_images = a.get_int("world_images", 1, int64_t(1) << 40);
    o.world_max_objects = a.get_int("world_max_objects", 1, 8);
    o.world_min_objects = a.get_int("world_min_objects", 1, o.world_max_objects);
    o.world_text_percent = a.get_int("world_text_percent", 0, 100);
    o.world_vqa_per_image = a.get_int("world_vqa_per_image", 0, 1000);
    o.world_test_images = a.get_int("world_test_images", 1, int64_t(1) << 40);
    o.world_task_weights = a.get("world_task_weights");
    o.world_image_after_question = a.get_bool("world_image_after_question");
    o.world_image_after_names = a.get_bool("world_image_after_names");
    o.world_reasoned_relations = a.get_bool("world_reasoned_relations");
    o.world_compared_relations = a.get_bool("world_compared_relations");
    o.world_swapped_negatives = a.get_bool("world_swapped_negatives");
    o.system_prompt = a.get("system_prompt");
    o.system_prompt_given = a.was_given("system_prompt");
    try {
        data::parse_task_weights(o.world_task_weights);
    } catch (const data::DataError& e) {
        throw data::ArgError(std::string("[train_mod] world_") + e.what());
    }
    o.device = parse_device_arg(a.get("device"), "train_mod");
    o.precision = a.get_choice("precision", {"f32", "bf16"});
    if (o.precision == "bf16" && !o.device.is_cuda())
        throw data::ArgError("[train_mod] precision=bf16 needs device=cuda: on the CPU bfloat16 is a storage type");
    if (o.stage == "preference" && !a.was_given("lr")) o.lr /= 10;  // METHOD.md §2: about 10x lower
    o.resolved = a.resolved();
    return o;
}

Device parse_device_arg(const std::string& text, const char* program) {
    Device device;
    try {
        device = Device::parse(text);
    } catch (const ValueError&) {
        throw data::ArgError(std::string("[") + program + "] device=" + text + ": cpu, cuda or cuda:N expected");
    }
    if (device.is_cuda() && device.index >= cuda::device_count())
        throw data::ArgError(std::string("[") + program + "] device=" + text + ": " +
                             std::to_string(cuda::device_count()) +
                             " CUDA device(s) visible to this build (a GPU and a build with the CUDA toolkit needed)");
    return device;
}

std::string TrainOptions::resolved_json() const {
    nlohmann::ordered_json j;
    for (const auto& [k, v] : resolved) j[k] = v;
    j["resolved_out"] = out;
    j["resolved_tokenizer"] = tokenizer;
    j["resolved_lr"] = lr;
    return j.dump(2) + "\n";
}

}  // namespace mod::train
