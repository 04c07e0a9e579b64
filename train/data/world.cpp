// make_world's engine: one pass over the training scenes (image, truth, samples, pairs, shape
// statistics), then one pass over the held-out scenes (image, truth, eval sets).
#include "data/world.h"

#include "data/conversation.h"
#include "data/describe.h"
#include "data/errors.h"
#include "data/image_io.h"
#include "data/json_writer.h"
#include "data/pope.h"
#include "data/preference.h"
#include "data/render.h"
#include "data/rng.h"
#include "data/scene.h"
#include "data/tasks.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>

namespace mod::data {

namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

// Independent random streams, so that changing one part of the mix leaves the others unchanged.
enum Stream : uint64_t { kTrainScene = 1, kTestScene, kGeneral, kVqa, kPreference, kTestVqa, kPope };

// A first question with the image tag where the world puts it (WorldConfig).
std::string place_image(const std::string& question, const WorldConfig& c) {
    return with_image_placed(question, c.image_after_question, c.image_after_names);
}

// Checks every field; returns the parsed task weights, which the training pass and meta.json use.
std::vector<int> check_config(const WorldConfig& c) {
    auto fail = [](const std::string& what) { throw DataError("[make_world] " + what); };
    if (c.out.empty()) fail("out= is required");
    if (c.images < 1 || c.test_images < 0) fail("images must be >= 1 and test_images >= 0");
    if (c.image_size < 32 || c.image_size > 4096) fail("image_size must be in [32, 4096]");
    if (c.max_objects < 1 || c.max_objects > 8) fail("max_objects must be in [1, 8]");
    if (c.min_objects < 1 || c.min_objects > c.max_objects) fail("min_objects must be in [1, max_objects]");
    auto percent = [&](int p, const char* name) {
        if (p < 0 || p > 100) fail(std::string(name) + " must be in [0, 100]");
    };
    percent(c.text_percent, "text_percent");
    percent(c.conversation_percent, "conversation_percent");
    percent(c.caption_pair_percent, "caption_pair_percent");
    if (c.general_per_image < 0 || c.vqa_per_image < 0 || c.test_vqa_per_image < 0 || c.pope_per_side < 0 ||
        c.preference_pairs < 0) {
        fail("per-image counts and preference_pairs must be >= 0");
    }
    if (c.images_per_folder < 1) fail("images_per_folder must be >= 1");
    if (c.style.compared_relations && !c.style.reasoned_relations) fail("compared_relations needs reasoned_relations");
    try {
        return parse_task_weights(c.task_weights);
    } catch (const DataError& e) {
        throw DataError(std::string("[make_world] ") + e.what());
    }
}

std::string image_path(int64_t index, int64_t per_folder) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "images/%03lld/%06lld.png", static_cast<long long>(index / per_folder),
                  static_cast<long long>(index));
    return buf;
}

ojson turn(const char* from, const std::string& value) { return ojson{{"from", from}, {"value", value}}; }

// Renders, writes the PNG and the truth line; returns the image path relative to the split folder.
std::string emit_scene(const Scene& scene, int64_t index, const WorldConfig& c, const fs::path& split,
                       std::ofstream& scenes) {
    const std::string rel = image_path(index, c.images_per_folder);
    const fs::path path = split / rel;
    if (index % c.images_per_folder == 0) fs::create_directories(path.parent_path());
    write_png(path.string(), render_scene(scene, c.image_size));
    scenes << ojson{{"image", rel}, {"scene", scene_to_json(scene)}}.dump() << "\n";
    return rel;
}

ojson general_sample(const Scene& scene, const std::string& id, const std::string& image, const WorldConfig& c,
                     Rng& rng) {
    ojson convs = ojson::array();
    if (!rng.percent(c.conversation_percent)) {
        convs.push_back(turn("human", place_image(rng.pick(describe_prompts()), c)));
        convs.push_back(turn("gpt", caption(scene)));
    } else {
        const int turns = rng.range(2, 3);
        for (int t = 0; t < turns; ++t) {
            const bool describe = t == 0 ? rng.percent(50) : false;
            const QA qa = describe ? QA{"general", rng.pick(describe_prompts()), caption(scene)}
                                   : make_general_turn(scene, rng);
            convs.push_back(turn("human", t == 0 ? place_image(qa.question, c) : qa.question));
            convs.push_back(turn("gpt", qa.answer));
        }
    }
    return ojson{{"id", id}, {"image", image}, {"conversations", convs}};
}

ojson vqa_sample(const Scene& scene, const std::string& id, const std::string& image, const std::string& task,
                 const WorldConfig& c, Rng& rng) {
    const QA qa = make_vqa(scene, task, rng, c.style);
    ojson convs = ojson::array();
    convs.push_back(turn("human", place_image(qa.question + "\n" + qa.instruction, c)));
    convs.push_back(turn("gpt", qa.answer));
    return ojson{{"id", id}, {"image", image}, {"conversations", convs}, {"task", qa.task}};
}

// The task types of one cycle of sample slots, each as often as its weight: spread evenly over
// the samples by pick_task. All weights 1 give vqa_task_names() itself.
std::vector<std::string> task_cycle(const std::vector<int>& weights) {
    std::vector<std::string> cycle;
    for (size_t t = 0; t < weights.size(); ++t) cycle.insert(cycle.end(), static_cast<size_t>(weights[t]), vqa_task_names()[t]);
    return cycle;
}

// The task of sample slot `slot`; falls back to the always-possible tasks when it is impossible
// for this scene (text without a text object, relation with one shape).
std::string pick_task(const Scene& scene, const std::vector<std::string>& cycle, int64_t slot, Rng& rng) {
    const std::string& task = cycle[static_cast<size_t>(slot) % cycle.size()];
    if (task_possible(scene, task)) return task;
    static const std::vector<std::string> always = {"color", "shape", "count", "position", "existence"};
    return rng.pick(always);
}

std::string pad_index(int64_t i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%06lld", static_cast<long long>(i));
    return buf;
}

void write_train(const WorldConfig& c, const std::vector<int>& task_weights, const fs::path& dir, ShapeStats& stats,
                 WorldStats& counts) {
    const SceneConfig scene_config{c.max_objects, c.text_percent, c.min_objects};
    std::ofstream scenes(dir / "scenes.jsonl", std::ios::binary);
    if (!scenes) throw DataError("[make_world] " + (dir / "scenes.jsonl").string() + ": cannot create");
    JsonArrayWriter general((dir / "general.json").string());
    JsonArrayWriter multitask((dir / "multitask.json").string());
    JsonArrayWriter preference((dir / "preference.json").string());
    const std::vector<std::string> cycle = task_cycle(task_weights);
    for (int64_t i = 0; i < c.images; ++i) {
        Rng scene_rng = Rng::derive(c.seed, kTrainScene, static_cast<uint64_t>(i));
        const Scene scene = generate_scene(scene_rng, scene_config);
        stats.add(scene);
        const std::string image = emit_scene(scene, i, c, dir, scenes);
        const std::string stem = "train-" + pad_index(i);

        Rng general_rng = Rng::derive(c.seed, kGeneral, static_cast<uint64_t>(i));
        for (int k = 0; k < c.general_per_image; ++k) {
            general.add(general_sample(scene, stem + "-g" + std::to_string(k), image, c, general_rng));
        }
        Rng vqa_rng = Rng::derive(c.seed, kVqa, static_cast<uint64_t>(i));
        for (int k = 0; k < c.vqa_per_image; ++k) {
            const std::string task = pick_task(scene, cycle, i * c.vqa_per_image + k, vqa_rng);
            multitask.add(vqa_sample(scene, stem + "-v" + std::to_string(k), image, task, c, vqa_rng));
        }
        // Pairs are spread over the scenes: scene i gets pairs i, i + images, i + 2 images, ...
        Rng pref_rng = Rng::derive(c.seed, kPreference, static_cast<uint64_t>(i));
        for (int64_t p = i; p < c.preference_pairs; p += c.images) {
            const PreferencePair pair = make_preference_pair(scene, c.caption_pair_percent, pref_rng);
            const ojson human = turn("human", place_image(pair.question, c));
            preference.add(ojson{{"id", "pref-" + pad_index(p)},
                                 {"image", image},
                                 {"chosen", ojson::array({human, turn("gpt", pair.chosen)})},
                                 {"rejected", ojson::array({human, turn("gpt", pair.rejected)})},
                                 {"kind", pair.kind}});
        }
    }
    general.finish();
    multitask.finish();
    preference.finish();
    counts.general = general.count();
    counts.multitask = multitask.count();
    counts.preference = preference.count();
}

void write_test(const WorldConfig& c, const fs::path& dir, const ShapeStats& stats, WorldStats& counts) {
    const SceneConfig scene_config{c.max_objects, c.text_percent, c.min_objects};
    std::ofstream scenes(dir / "scenes.jsonl", std::ios::binary);
    if (!scenes) throw DataError("[make_world] " + (dir / "scenes.jsonl").string() + ": cannot create");
    JsonArrayWriter vqa((dir / "vqa.json").string());
    const std::vector<std::string>& even = vqa_task_names();
    JsonArrayWriter chair((dir / "chair.json").string());
    std::map<std::string, std::unique_ptr<JsonArrayWriter>> pope;
    for (const std::string& s : pope_strategies()) {
        pope[s] = std::make_unique<JsonArrayWriter>((dir / ("pope_" + s + ".json")).string());
    }
    for (int64_t i = 0; i < c.test_images; ++i) {
        Rng scene_rng = Rng::derive(c.seed, kTestScene, static_cast<uint64_t>(i));
        const Scene scene = generate_scene(scene_rng, scene_config);
        const std::string image = emit_scene(scene, i, c, dir, scenes);
        const std::string stem = "test-" + pad_index(i);

        Rng vqa_rng = Rng::derive(c.seed, kTestVqa, static_cast<uint64_t>(i));
        for (int k = 0; k < c.test_vqa_per_image; ++k) {
            const std::string task = pick_task(scene, even, i * c.test_vqa_per_image + k, vqa_rng);
            vqa.add(vqa_sample(scene, stem + "-v" + std::to_string(k), image, task, c, vqa_rng));
        }
        Rng pope_rng = Rng::derive(c.seed, kPope, static_cast<uint64_t>(i));
        for (const std::string& strategy : pope_strategies()) {
            int k = 0;
            for (const PopeProbe& probe : make_pope_probes(scene, stats, strategy, c.pope_per_side, pope_rng)) {
                ojson convs = ojson::array();
                convs.push_back(turn("human", place_image(pope_question(probe.shape) + "\n" + kShortAnswerSuffix, c)));
                convs.push_back(turn("gpt", probe.present ? "yes" : "no"));
                pope[strategy]->add(ojson{{"id", "pope-" + strategy + "-" + pad_index(i) + "-" + std::to_string(k++)},
                                          {"image", image},
                                          {"conversations", convs},
                                          {"task", "pope_" + strategy},
                                          {"object", shape_name(probe.shape)}});
            }
        }
        ojson objects = ojson::array();
        for (const Object* o : shape_objects(scene)) objects.push_back(shape_name(o->shape));
        chair.add(ojson{{"id", stem + "-c"},
                        {"image", image},
                        {"prompt", place_image(describe_prompts()[0], c)},
                        {"objects", objects},
                        {"scene", scene_to_json(scene)}});
    }
    vqa.finish();
    chair.finish();
    counts.test_vqa = vqa.count();
    counts.chair = chair.count();
    for (auto& [name, writer] : pope) {
        writer->finish();
        counts.pope += writer->count();
    }
}

void write_meta(const WorldConfig& c, const std::vector<int>& task_weights, const WorldStats& s, const fs::path& out) {
    ojson weights = ojson::object();
    for (size_t t = 0; t < task_weights.size(); ++t) weights[vqa_task_names()[t]] = task_weights[t];
    ojson config{{"seed", c.seed},
                 {"images", c.images},
                 {"test_images", c.test_images},
                 {"image_size", c.image_size},
                 {"max_objects", c.max_objects},
                 {"min_objects", c.min_objects},
                 {"text_percent", c.text_percent},
                 {"general_per_image", c.general_per_image},
                 {"conversation_percent", c.conversation_percent},
                 {"vqa_per_image", c.vqa_per_image},
                 {"task_weights", weights},
                 {"preference_pairs", c.preference_pairs},
                 {"caption_pair_percent", c.caption_pair_percent},
                 {"test_vqa_per_image", c.test_vqa_per_image},
                 {"pope_per_side", c.pope_per_side},
                 {"images_per_folder", c.images_per_folder},
                 {"image_after_question", c.image_after_question},
                 {"image_after_names", c.image_after_names},
                 {"reasoned_relations", c.style.reasoned_relations},
                 {"compared_relations", c.style.compared_relations},
                 {"swapped_negatives", c.style.swapped_negatives}};
    ojson counts{{"general", s.general},   {"multitask", s.multitask}, {"preference", s.preference},
                 {"test_vqa", s.test_vqa}, {"pope", s.pope},           {"chair", s.chair}};
    std::ofstream f(out / "meta.json", std::ios::binary);
    f << ojson{{"format", "llava-mod world 1"}, {"config", config}, {"counts", counts}}.dump(2) << "\n";
    if (!f) throw DataError("[make_world] " + (out / "meta.json").string() + ": write failed");
}

}  // namespace

WorldStats write_world(const WorldConfig& config) {
    const std::vector<int> task_weights = check_config(config);
    const fs::path out(config.out);
    std::error_code ec;
    fs::create_directories(out / "train", ec);
    fs::create_directories(out / "test", ec);
    if (ec) throw DataError("[make_world] " + out.string() + ": cannot create folder: " + ec.message());
    WorldStats stats;
    ShapeStats shape_stats;
    write_train(config, task_weights, out / "train", shape_stats, stats);
    write_test(config, out / "test", shape_stats, stats);
    write_meta(config, task_weights, stats, out);
    return stats;
}

std::vector<int> parse_task_weights(const std::string& spec) {
    const std::vector<std::string>& tasks = vqa_task_names();
    std::vector<int> weights(tasks.size(), 1);
    auto fail = [&](const std::string& why) {
        throw DataError("task_weights \"" + spec + "\": " + why);
    };
    size_t begin = 0;
    while (begin < spec.size()) {
        const size_t end = std::min(spec.find(',', begin), spec.size());
        const std::string item = spec.substr(begin, end - begin);
        const size_t eq = item.find('=');
        if (eq == std::string::npos) fail("\"" + item + "\" is not task=weight");
        const std::string task = item.substr(0, eq), value = item.substr(eq + 1);
        const auto it = std::find(tasks.begin(), tasks.end(), task);
        if (it == tasks.end()) {
            std::string known;
            for (const std::string& t : tasks) known += (known.empty() ? "" : ", ") + t;
            fail("unknown task type \"" + task + "\" (" + known + ")");
        }
        const bool digits = !value.empty() && value.size() <= 3 &&
                            std::all_of(value.begin(), value.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
        if (!digits || std::stoi(value) > 100) fail("the weight of " + task + " must be a whole number 0-100");
        weights[static_cast<size_t>(it - tasks.begin())] = std::stoi(value);
        begin = end + 1;
    }
    if (std::all_of(weights.begin(), weights.end(), [](int w) { return w == 0; })) fail("every weight is 0");
    return weights;
}

}  // namespace mod::data
