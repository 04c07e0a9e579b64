#include "trainer/vision_pretrain.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <future>
#include <nlohmann/json.hpp>
#include <omp.h>

#include "autograd/grad_mode.h"
#include "core/elementwise.h"
#include "core/index.h"
#include "core/random.h"
#include "core/runtime.h"
#include "core/loss.h"
#include "core/reduce.h"
#include "data/errors.h"
#include "data/image_io.h"
#include "data/render.h"
#include "data/rng.h"
#include "data/scene.h"
#include "data/scene_file.h"
#include "nn/linear.h"
#include "nn/optim.h"
#include "trainer/progress.h"
#include "trainer/workspace.h"

namespace mod::train {

namespace {

namespace fs = std::filesystem;

constexpr int kCells = data::kGrid * data::kGrid;
constexpr int kChars = 36;        // [A-Z0-9]
constexpr int kTextSlots = 3;     // a text object holds 1-3 characters
constexpr int64_t kIgnore = -100;

// Classes of each attribute; class 0 is "empty cell" (or "no character").
constexpr int kShapeClasses = 1 + data::kShapeKinds + 1;  // + text
constexpr int kColourClasses = 1 + data::kColours;
constexpr int kSizeClasses = 3;
constexpr int kCharClasses = 1 + kChars;
constexpr int kPerCell = kShapeClasses + kColourClasses + kSizeClasses + kTextSlots * kCharClasses + kCells;
constexpr int kAttributeCount = 5;  // shape, colour, size, characters, cell

// Labels of one cell: shape, colour, size and three characters (ignored unless text).
struct CellLabels {
    int64_t shape = 0, colour = 0, size = 0;
    int64_t chars[kTextSlots] = {kIgnore, kIgnore, kIgnore};
};

struct LabelledImage {
    data::ImageRgb image;
    CellLabels cells[kCells];
};

int64_t char_class(char c) { return c >= 'A' && c <= 'Z' ? 1 + (c - 'A') : 1 + 26 + (c - '0'); }

LabelledImage labelled(const data::Scene& scene, data::ImageRgb image) {
    LabelledImage out;
    out.image = std::move(image);
    for (const data::Object& o : scene.objects) {
        CellLabels& c = out.cells[o.row * data::kGrid + o.col];
        c.shape = 1 + static_cast<int64_t>(o.shape);
        c.colour = 1 + static_cast<int64_t>(o.colour);
        c.size = 1 + static_cast<int64_t>(o.size);
        if (o.shape == data::Shape::text)
            for (int k = 0; k < kTextSlots; ++k)
                c.chars[k] = k < static_cast<int>(o.text.size()) ? char_class(o.text[k]) : 0;
    }
    return out;
}

// Every scene of <split>/scenes.jsonl with its image's path; the images are read batch by batch.
std::vector<data::SceneFile> read_split(const std::string& data_dir, const std::string& split) {
    return data::read_scene_file((fs::path(data_dir) / split).string(), "vision",
                                 "a world made by make_world has it; vision_steps=0 skips vision pretraining");
}

LabelledImage labelled(const data::SceneFile& f) { return labelled(f.scene, data::read_image(f.image_path)); }

// The scene generator's settings of the world in <data_dir>, from its meta.json.
struct WorldScenes {
    data::SceneConfig scene;
    int image_size = 0;
};

WorldScenes read_world_scenes(const std::string& data_dir) {
    const std::string path = (fs::path(data_dir) / "meta.json").string();
    const nlohmann::json c = world_meta_config(data_dir);
    if (c.is_null()) throw data::DataError("[vision] " + path + ": cannot open (vision_scenes=generated needs the world's meta.json)");
    try {
        WorldScenes w;
        w.scene.max_objects = c.at("max_objects").get<int>();
        w.scene.min_objects = c.value("min_objects", 1);  // worlds made before min_objects had 1
        w.scene.text_percent = c.at("text_percent").get<int>();
        w.image_size = c.at("image_size").get<int>();
        if (w.image_size < 32 || w.scene.max_objects < 1 || w.scene.min_objects < 1 ||
            w.scene.min_objects > w.scene.max_objects || w.scene.text_percent < 0 || w.scene.text_percent > 100)
            throw data::DataError("[vision] " + path + ": config image_size " + std::to_string(w.image_size) +
                                  ", max_objects " + std::to_string(w.scene.max_objects) + ", min_objects " +
                                  std::to_string(w.scene.min_objects) + ", text_percent " +
                                  std::to_string(w.scene.text_percent) +
                                  " out of range (image_size >= 32, 1 <= min_objects <= max_objects, text_percent 0-100)");
        return w;
    } catch (const nlohmann::json::exception& e) {
        throw data::JsonError("[vision] " + path + ": " + e.what());
    }
}

struct Batch {
    Tensor pixels;                      // (B, 3, S, S)
    std::vector<int64_t> targets[kAttributeCount];  // shape, colour, size, chars, cell: (B * patches [* slots])
};

// On the CPU; the caller moves the pixels to its device.
Batch make_batch(const std::vector<LabelledImage>& images, const models::VisionConfig& vision) {
    const int64_t B = static_cast<int64_t>(images.size()), S = vision.image_size;
    Tensor pixels = Tensor::empty({B, 3, S, S});
    const data::PreprocessConfig pre = preprocess_config(vision);
    const std::vector<int> patch_cells = grid_cell_of_patches(vision);
    Batch batch;
    for (int64_t b = 0; b < B; ++b) {
        const LabelledImage& im = images[b];
        data::preprocess_image(im.image, pre, pixels.data<float>() + b * 3 * S * S);
        for (int cell : patch_cells) {
            const CellLabels& c = im.cells[cell];
            batch.targets[0].push_back(c.shape);
            batch.targets[1].push_back(c.colour);
            batch.targets[2].push_back(c.size);
            for (int64_t ch : c.chars) batch.targets[3].push_back(ch);
            batch.targets[4].push_back(cell);
        }
    }
    batch.pixels = pixels;
    return batch;
}

// The read-out's logits of one attribute: columns [begin, begin + classes) of each patch's
// (B, P, kPerCell) logits, as (B * P * slots, classes).
Tensor attribute_logits(const Tensor& logits, int64_t begin, int64_t classes, int64_t slots) {
    return logits.reshape({-1, kPerCell}).narrow(1, begin, classes * slots).reshape({-1, classes});
}

struct Attribute {
    const char* name;
    int64_t begin, classes, slots;
};
const Attribute kAttributes[kAttributeCount] = {
    {"shape", 0, kShapeClasses, 1},
    {"colour", kShapeClasses, kColourClasses, 1},
    {"size", kShapeClasses + kColourClasses, kSizeClasses, 1},
    {"text", kShapeClasses + kColourClasses + kSizeClasses, kCharClasses, kTextSlots},
    {"cell", kShapeClasses + kColourClasses + kSizeClasses + kTextSlots * kCharClasses, kCells, 1}};

// Sum of the attributes' mean cross-entropies.
Tensor readout_loss(const Tensor& logits, const Batch& batch, Terms* terms) {
    Tensor total;
    for (int a = 0; a < kAttributeCount; ++a) {
        const Attribute& at = kAttributes[a];
        const std::vector<int64_t>& t = batch.targets[a];
        const bool any = std::any_of(t.begin(), t.end(), [](int64_t v) { return v != kIgnore; });
        if (!any) continue;  // no text object in the batch
        Tensor ce = cross_entropy(attribute_logits(logits, at.begin, at.classes, at.slots),
                                  Tensor::from_vector<int64_t>(t, {static_cast<int64_t>(t.size())}).to(logits.device()),
                                  kIgnore);
        if (terms) terms->emplace_back(at.name, ce.item());
        total = total.defined() ? total + ce : ce;
    }
    return total;
}

}  // namespace

std::vector<int> grid_cell_of_patches(const models::VisionConfig& vision) {
    const int64_t side = vision.image_size / vision.patch_size;
    std::vector<int> cells;
    for (int64_t r = 0; r < side; ++r)
        for (int64_t c = 0; c < side; ++c) {
            auto cell = [&](int64_t i) {
                const int64_t centre = i * vision.patch_size + vision.patch_size / 2;
                return static_cast<int>(std::min<int64_t>(data::kGrid - 1, centre * data::kGrid / vision.image_size));
            };
            cells.push_back(cell(r) * data::kGrid + cell(c));
        }
    return cells;
}

VisionPretrainReport pretrain_vision(models::ClipVisionModel& vision, models::Projector* projector,
                                     const TrainOptions& o, int64_t steps, bool train_vision) {
    if (!train_vision && !projector) throw ValueError("[vision] pretrain_vision: nothing to train");
    const models::VisionConfig& vc = vision.vision_model->config;
    // The training images: the world's own (vision_scenes=train) or, drawn afresh each step by
    // the world's generator and settings, new scenes (vision_scenes=generated).
    const bool generated = o.vision_scenes == "generated";
    const std::vector<data::SceneFile> train_scenes = generated ? std::vector<data::SceneFile>{} : read_split(o.data, "train");
    WorldScenes world = generated ? read_world_scenes(o.data) : WorldScenes{};
    if (generated && o.vision_text_percent >= 0) world.scene.text_percent = static_cast<int>(o.vision_text_percent);
    data::Rng scene_rng(o.seed ^ 0x5ce9e5ULL);
    Generator gen(o.seed ^ 0x5eedULL);
    const int64_t features = projector ? projector->fc2->weight.size(0) : vc.hidden_size;
    nn::Linear readout(features, kPerCell, true, gen);
    readout.to(o.device);
    nn::NamedTensors params;
    if (train_vision) {
        vision.set_requires_grad("*", true);
        params = vision.named_parameters("vision.");
    }
    if (projector) {
        projector->set_requires_grad("*", true);
        for (auto& p : projector->named_parameters("projector.")) params.push_back(p);
    }
    for (auto& p : readout.named_parameters("readout.")) params.push_back(p);
    AdamW opt(params, AdamWOptions{o.lr});
    const CosineSchedule schedule{o.lr, CosineSchedule::warmup_for(steps, o.warmup_ratio), steps};
    const int64_t B = o.batch_size;
    auto logits_of = [&](const Tensor& pixels) {
        Tensor f;  // (B, P, Dv)
        if (train_vision) {
            f = vision.forward(pixels);
        } else {
            NoGradGuard frozen;
            f = vision.forward(pixels);
        }
        return readout.forward(projector ? projector->forward(f) : f);  // (B, P, kPerCell)
    };

    VisionPretrainReport report;
    const int64_t window = std::max<int64_t>(1, steps / 10);
    Progress progress("vision", 0, steps, o.log_every);
    // A step's images: new scenes drawn by scene_rng, or the training scenes that `uniforms` (in
    // [0, 1), drawn from gen on the training thread) pick; rendered or read, and preprocessed.
    // Runs on another thread: it touches nothing the training step does.
    auto draw_batch = [&scene_rng, &world, &train_scenes, &vc, B, generated](const std::vector<double>& uniforms) {
        std::vector<LabelledImage> images;
        if (generated) {
            for (int64_t b = 0; b < B; ++b) {
                const data::Scene scene = data::generate_scene(scene_rng, world.scene);
                images.push_back(labelled(scene, data::render_scene(scene, world.image_size)));
            }
        } else {
            for (double u : uniforms)
                images.push_back(labelled(train_scenes[static_cast<size_t>(u * train_scenes.size()) % train_scenes.size()]));
        }
        return make_batch(images, vc);
    };
    auto picks = [&] { return generated ? std::vector<double>{} : rand({B}, gen, DType::F64).to_vector<double>(); };
    // The next step's batch is drawn on another thread while this step trains: drawing and
    // preprocessing 16 new scenes take about a fifth of a step of the quickstart's encoder. One
    // draw at a time, in step order, so scene_rng and gen give the same batches as in series.
    {
        // The step leaves a core to the drawing thread: on 2 cores, 15.4-15.9k tokens/s with one
        // thread against 10.6-11.2k with two (quickstart encoder, generated scenes).
        const ScopedOmpThreads beside_drawing(omp_get_max_threads() - 1);
        std::future<Batch> next = std::async(std::launch::async, draw_batch, picks());
        for (int64_t step = 0; step < steps; ++step) {
            Batch batch = next.get();
            if (step + 1 < steps) next = std::async(std::launch::async, draw_batch, picks());
            batch.pixels = batch.pixels.to(o.device);
            opt.set_lr(schedule.lr_at(step));
            opt.zero_grad();
            Terms terms;
            Tensor loss = readout_loss(logits_of(batch.pixels), batch, &terms);
            loss.backward();
            clip_grad_norm(params, 1.0);
            opt.step();
            const double l = loss.item();
            if (step < window) report.first_loss += l / window;
            if (step >= steps - window) report.last_loss += l / window;
            terms.insert(terms.begin(), {"loss", l});
            progress.update(step + 1, terms, schedule.lr_at(step), B * (vc.num_patches() + 1));  // ViT tokens
        }
    }
    progress.finish();

    // Held-out accuracy per attribute over the patches that show an object: three quarters of
    // the cells of a scene are empty, so over all patches a read-out that sees only "empty or
    // not" would already score about 75% on shape. Empty patches are scored on their own, and
    // characters over the slots of text objects.
    NoGradGuard no_grad;
    const std::vector<data::SceneFile> test_scenes = read_split(o.data, "test");
    int64_t right[kAttributeCount] = {}, total[kAttributeCount] = {}, empty_right = 0, empty_total = 0;
    int64_t texts_right = 0, texts_total = 0;
    for (size_t first = 0; first < test_scenes.size(); first += B) {
        std::vector<LabelledImage> images;
        for (size_t i = first; i < std::min(test_scenes.size(), first + B); ++i) images.push_back(labelled(test_scenes[i]));
        const Batch batch = make_batch(images, vc);
        const Tensor logits = logits_of(batch.pixels.to(o.device));
        const std::vector<int64_t>& shape_truth = batch.targets[0];
        for (int a = 0; a < kAttributeCount; ++a) {
            const Attribute& at = kAttributes[a];
            const std::vector<int64_t> guess =
                argmax(attribute_logits(logits, at.begin, at.classes, at.slots), 1).to_vector<int64_t>();
            for (size_t i = 0; i < guess.size(); ++i) {
                const int64_t truth = batch.targets[a][i];
                if (truth == kIgnore) continue;
                if (a == 0 && truth == 0) {
                    ++empty_total;
                    empty_right += guess[i] == 0;
                    continue;
                }
                if (at.slots == 1 && shape_truth[i] == 0) continue;  // an empty patch
                ++total[a];
                right[a] += guess[i] == truth;
            }
            if (at.slots > 1) {  // the characters: a text read whole has every slot right
                for (size_t i = 0; i < guess.size(); i += at.slots) {
                    if (batch.targets[a][i] == kIgnore) continue;
                    ++texts_total;
                    texts_right += std::equal(guess.begin() + i, guess.begin() + i + at.slots, batch.targets[a].begin() + i);
                }
            }
        }
    }
    auto ratio = [](int64_t r, int64_t t) { return t ? double(r) / double(t) : 0.0; };
    auto rate = [&](int a) { return ratio(right[a], total[a]); };
    report.shape_accuracy = rate(0);
    report.colour_accuracy = rate(1);
    report.text_accuracy = rate(3);
    report.cell_accuracy = rate(4);
    report.texts_read = ratio(texts_right, texts_total);
    report.empty_accuracy = ratio(empty_right, empty_total);
    std::fprintf(stderr,
                 "train_mod: vision pretraining: loss %.3f -> %.3f; held-out patches showing an object: shape %.1f%%, "
                 "colour %.1f%%, size %.1f%%, characters %.1f%% (texts read whole %.1f%%), cell %.1f%%; empty patches: "
                 "%.1f%%\n",
                 report.first_loss, report.last_loss, 100 * rate(0), 100 * rate(1), 100 * rate(2), 100 * rate(3),
                 100 * report.texts_read, 100 * rate(4), 100 * report.empty_accuracy);
    return report;
}

}  // namespace mod::train
