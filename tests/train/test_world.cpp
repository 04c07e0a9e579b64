// The world generator: byte-identical output per seed, every answer true of its scene (re-derived
// by world_truth.cpp), and rendered pixels that agree with the stored scene.
#include "data/conversation.h"
#include "data/errors.h"
#include "data/image_io.h"
#include "data/tasks.h"
#include "data/world.h"
#include "temp_dir.h"
#include "world_truth.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <regex>
#include <set>

namespace {

namespace fs = std::filesystem;
using mod::test::TempDir;

mod::data::WorldConfig small_world(const std::string& out, uint64_t seed, int64_t images = 300, int64_t test_images = 60) {
    mod::data::WorldConfig c;
    c.out = out;
    c.seed = seed;
    c.images = images;
    c.test_images = test_images;
    c.preference_pairs = images;
    c.images_per_folder = 100;
    return c;
}

// FNV-1a over every file's relative path and bytes, in sorted path order.
uint64_t hash_tree(const fs::path& root) {
    std::vector<fs::path> files;
    for (const auto& e : fs::recursive_directory_iterator(root)) {
        if (e.is_regular_file()) files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    uint64_t h = 1469598103934665603ULL;
    auto mix = [&](const std::string& bytes) {
        for (unsigned char ch : bytes) h = (h ^ ch) * 1099511628211ULL;
    };
    for (const fs::path& f : files) {
        mix(fs::relative(f, root).generic_string());
        std::ifstream in(f, std::ios::binary);
        mix(std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()));
    }
    return h;
}

nlohmann::json read_json(const fs::path& p) {
    std::ifstream f(p);
    return nlohmann::json::parse(f);
}

TEST(World, SameSeedGivesByteIdenticalFiles) {
    TempDir a, b, c;
    mod::data::write_world(small_world(a.str(), 7));
    mod::data::write_world(small_world(b.str(), 7));
    mod::data::write_world(small_world(c.str(), 8));
    EXPECT_EQ(hash_tree(a.path()), hash_tree(b.path()));
    EXPECT_NE(hash_tree(a.path()), hash_tree(c.path()));
}

class WorldTruth : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = std::make_unique<TempDir>();
        mod::data::write_world(small_world(dir_->str(), 3));
        train_ = mod::test::read_scenes(dir_->str("train/scenes.jsonl"));
        test_ = mod::test::read_scenes(dir_->str("test/scenes.jsonl"));
    }
    static void TearDownTestSuite() { dir_.reset(); }

    // Checks each (human, gpt) pair of a conversation; returns the number of answers checked.
    static int check_conversation(const nlohmann::json& convs, const mod::data::Scene& scene, const std::string& id) {
        int checked = 0;
        for (size_t i = 0; i + 1 < convs.size(); i += 2) {
            const std::string err = mod::test::check_answer(scene, convs[i]["value"], convs[i + 1]["value"]);
            EXPECT_EQ(err, "") << id;
            ++checked;
        }
        return checked;
    }

    static int check_file(const std::string& rel, const std::map<std::string, mod::data::Scene>& scenes) {
        int checked = 0;
        for (const auto& sample : read_json(dir_->path() / rel)) {
            checked += check_conversation(sample["conversations"], scenes.at(sample["image"]), sample["id"]);
        }
        return checked;
    }

    static inline std::unique_ptr<TempDir> dir_;
    static inline std::map<std::string, mod::data::Scene> train_, test_;
};

TEST_F(WorldTruth, GeneralAnswersAreTrue) { EXPECT_GT(check_file("train/general.json", train_), 300); }

TEST_F(WorldTruth, MultitaskAnswersAreTrue) { EXPECT_EQ(check_file("train/multitask.json", train_), 600); }

TEST_F(WorldTruth, TestVqaAndPopeAnswersAreTrue) {
    EXPECT_EQ(check_file("test/vqa.json", test_), 180);
    for (const char* s : {"random", "popular", "adversarial"}) {
        EXPECT_GT(check_file(std::string("test/pope_") + s + ".json", test_), 60) << s;
    }
}

TEST(World, CrowdedScenesStayTrue) {
    // Up to 8 shapes: scenes can hold every shape kind, which negatives must survive.
    TempDir dir;
    mod::data::WorldConfig c = small_world(dir.str(), 11, 150, 0);
    c.max_objects = 8;
    mod::data::write_world(c);
    const auto scenes = mod::test::read_scenes(dir.str("train/scenes.jsonl"));
    for (const char* file : {"train/general.json", "train/multitask.json"}) {
        for (const auto& sample : read_json(dir.path() / file)) {
            const auto& convs = sample["conversations"];
            for (size_t i = 0; i + 1 < convs.size(); i += 2) {
                EXPECT_EQ(mod::test::check_answer(scenes.at(sample["image"]), convs[i]["value"], convs[i + 1]["value"]), "")
                    << sample["id"];
            }
        }
    }
    for (const auto& pair : read_json(dir.path() / "train/preference.json")) {
        const auto& scene = scenes.at(pair["image"]);
        EXPECT_EQ(mod::test::check_answer(scene, pair["chosen"][0]["value"], pair["chosen"][1]["value"]), "");
        EXPECT_NE(mod::test::check_answer(scene, pair["rejected"][0]["value"], pair["rejected"][1]["value"]), "");
    }
}

TEST_F(WorldTruth, EveryTaskTypeIsPresent) {
    std::map<std::string, int> tasks;
    for (const auto& sample : read_json(dir_->path() / "train/multitask.json")) ++tasks[sample["task"]];
    for (const char* t : {"color", "shape", "count", "position", "relation", "text", "existence"}) {
        EXPECT_GT(tasks[t], 10) << t;
    }
}

TEST(World, TaskWeightsShiftTheTrainingMixAndLeaveTheTestSetEven) {
    TempDir even, weighted;
    mod::data::WorldConfig c = small_world(even.str(), 5);
    c.max_objects = 3;
    c.preference_pairs = 0;
    mod::data::write_world(c);
    c.out = weighted.str();
    c.task_weights = "relation=4,count=0";
    mod::data::write_world(c);
    auto count_tasks = [](const fs::path& file) {
        std::map<std::string, int> tasks;
        for (const auto& sample : read_json(file)) ++tasks[sample["task"]];
        return tasks;
    };
    std::map<std::string, int> before = count_tasks(even.path() / "train/multitask.json");
    std::map<std::string, int> after = count_tasks(weighted.path() / "train/multitask.json");
    // A cycle of 10 slots, 4 of them relation, against 1 of 7; relation needs two shapes, so the
    // impossible slots fall back to other types (count among them).
    EXPECT_GT(after["relation"], 2 * before["relation"]);
    EXPECT_GT(after["relation"], 0.25 * 600);
    EXPECT_LT(after["count"], before["count"] / 2);
    EXPECT_EQ(read_json(even.path() / "test/vqa.json"), read_json(weighted.path() / "test/vqa.json"));
    const auto meta = read_json(weighted.path() / "meta.json");
    EXPECT_EQ(meta["config"]["task_weights"]["relation"], 4);
    EXPECT_EQ(meta["config"]["task_weights"]["count"], 0);
    EXPECT_EQ(meta["config"]["task_weights"]["color"], 1);
    EXPECT_EQ(read_json(even.path() / "meta.json")["config"]["task_weights"]["relation"], 1);
}

TEST(World, MinObjectsPutThatManyShapesInEveryScene) {
    TempDir dir;
    mod::data::WorldConfig c = small_world(dir.str(), 9);
    c.min_objects = 2;
    c.max_objects = 3;
    c.images = 100;
    c.test_images = 30;
    c.preference_pairs = 0;
    mod::data::write_world(c);
    std::map<size_t, int> sizes;
    for (const char* split : {"train", "test"}) {
        std::ifstream in(dir.path() / split / "scenes.jsonl");
        for (std::string line; std::getline(in, line);) {
            const nlohmann::json record = nlohmann::json::parse(line);
            size_t shapes = 0;
            for (const auto& o : record["scene"]["objects"]) shapes += o["shape"] != "text";
            ++sizes[shapes];
        }
    }
    EXPECT_EQ(sizes.size(), 2u);  // 2 and 3, both drawn
    EXPECT_GT(sizes[2], 0);
    EXPECT_GT(sizes[3], 0);
    EXPECT_EQ(read_json(dir.path() / "meta.json")["config"]["min_objects"], 2);
    for (int bad : {0, 4}) {
        c.min_objects = bad;
        try {
            mod::data::write_world(c);
            ADD_FAILURE() << "min_objects " << bad << " was accepted";
        } catch (const mod::data::DataError& e) {
            EXPECT_NE(std::string(e.what()).find("min_objects"), std::string::npos) << e.what();
        }
    }
}

// The first human turn of every file, in order: the conversations' (chosen and rejected for
// pairs) and chair.json's prompts.
std::vector<std::string> first_turns(const fs::path& world) {
    std::vector<std::string> out;
    for (const char* file : {"train/general.json", "train/multitask.json", "train/preference.json", "test/vqa.json",
                             "test/pope_random.json", "test/pope_popular.json", "test/pope_adversarial.json"}) {
        for (const auto& sample : read_json(world / file)) {
            for (const char* key : {"conversations", "chosen", "rejected"}) {
                if (sample.contains(key)) out.push_back(sample[key][0]["value"]);
            }
        }
    }
    for (const auto& sample : read_json(world / "test/chair.json")) out.push_back(sample["prompt"]);
    return out;
}

TEST(World, ImageAfterQuestionMovesTheTagAndNothingElse) {
    TempDir before, after;
    mod::data::WorldConfig c = small_world(before.str(), 4, 120, 20);
    mod::data::write_world(c);
    c.out = after.str();
    c.image_after_question = true;
    mod::data::write_world(c);
    const std::vector<std::string> a = first_turns(before.path()), b = first_turns(after.path());
    ASSERT_EQ(a.size(), b.size());
    ASSERT_GT(a.size(), 600u);
    const std::string tag = "<image>\n";
    for (size_t i = 0; i < a.size(); ++i) {
        ASSERT_EQ(a[i].rfind(tag, 0), 0u) << a[i];
        // "<image>\nQ\nsuffix" becomes "Q\n<image>\nsuffix"; "<image>\nQ" becomes "Q\n<image>".
        const std::string question = a[i].substr(tag.size());
        const size_t line_end = question.find('\n');
        const std::string expected = line_end == std::string::npos
                                         ? question + "\n<image>"
                                         : question.substr(0, line_end) + "\n<image>" + question.substr(line_end);
        EXPECT_EQ(b[i], expected);
    }
    // The answers, scenes and images are those of the world with the image first.
    auto answers = [](const fs::path& file) {
        std::vector<std::string> out;
        for (const auto& sample : read_json(file)) out.push_back(sample["conversations"].back()["value"]);
        return out;
    };
    EXPECT_EQ(answers(before.path() / "test/vqa.json"), answers(after.path() / "test/vqa.json"));
    EXPECT_EQ(hash_tree(before.path() / "train/images"), hash_tree(after.path() / "train/images"));
    EXPECT_EQ(read_json(after.path() / "meta.json")["config"]["image_after_question"], true);
    EXPECT_EQ(read_json(before.path() / "meta.json")["config"]["image_after_question"], false);
}

// The shape names of a question ("the red circle"), as the world words them.
const char* const kNamedShape = "\\bthe (red|green|blue|yellow|purple|orange|black|white) "
                                "(circle|square|triangle|star|diamond|cross|ring)\\b";

TEST(World, ImageAfterNamesShowsTheImageOncePerNamedShape) {
    TempDir before, after;
    mod::data::WorldConfig c = small_world(before.str(), 4, 120, 20);
    c.task_weights = "relation=3,position=2";
    mod::data::write_world(c);
    c.out = after.str();
    c.image_after_names = true;
    mod::data::write_world(c);
    const std::vector<std::string> a = first_turns(before.path()), b = first_turns(after.path());
    ASSERT_EQ(a.size(), b.size());
    const std::regex name(kNamedShape), ends_with_name(std::string(kNamedShape) + "$");
    int named = 0, twice = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        const std::string question = a[i].substr(std::string("<image>\n").size());
        const std::ptrdiff_t names = std::distance(std::sregex_iterator(question.begin(), question.end(), name),
                                                   std::sregex_iterator());
        if (names == 0) {  // as with image_after_question
            EXPECT_EQ(b[i], mod::data::with_image_tag(question, true));
            continue;
        }
        // "Is the red circle<image> above the blue square<image>?\n...": every tag right after a
        // name, one per name, and nothing else changed.
        ++named;
        twice += names == 2;
        std::string rebuilt;
        size_t copied = 0, tags = 0;
        for (size_t at = b[i].find("<image>"); at != std::string::npos; at = b[i].find("<image>", at + 1), ++tags) {
            EXPECT_TRUE(std::regex_search(b[i].substr(0, at), ends_with_name)) << b[i];
            rebuilt += b[i].substr(copied, at - copied);
            copied = at + std::string("<image>").size();
        }
        EXPECT_EQ(static_cast<std::ptrdiff_t>(tags), names) << b[i];
        EXPECT_EQ(rebuilt + b[i].substr(copied), question);
    }
    EXPECT_GT(named, 100);
    EXPECT_GT(twice, 50);  // the relation questions
    // The answers hold for the questions as asked, and meta.json records the key.
    const auto scenes = mod::test::read_scenes(after.str("train/scenes.jsonl"));
    for (const auto& sample : read_json(after.path() / "train/multitask.json")) {
        const auto& convs = sample["conversations"];
        EXPECT_EQ(mod::test::check_answer(scenes.at(sample["image"]), convs[0]["value"], convs[1]["value"]), "");
    }
    EXPECT_EQ(hash_tree(before.path() / "train/images"), hash_tree(after.path() / "train/images"));
    EXPECT_EQ(read_json(after.path() / "meta.json")["config"]["image_after_names"], true);
    EXPECT_EQ(read_json(before.path() / "meta.json")["config"]["image_after_names"], false);
}

// Writes a small world twice, with the question-style key `style` off and on, and calls
// `check(off, on, scene)` for every multi-task and held-out VQA sample pair that differs.
// The files no question style touches are equal, and meta.json records the key. Returns how
// many pairs differ.
int compare_question_style(bool mod::data::QuestionStyle::*style, const char* key,
                           const std::function<void(const nlohmann::json&, const nlohmann::json&,
                                                    const mod::data::Scene&)>& check,
                           const mod::data::QuestionStyle& base = {}) {
    TempDir off, on;
    mod::data::WorldConfig c = small_world(off.str(), 5, 150, 40);
    c.max_objects = 3;
    c.style = base;
    mod::data::write_world(c);
    c.out = on.str();
    c.style.*style = true;
    mod::data::write_world(c);
    const auto train_scenes = mod::test::read_scenes(on.str("train/scenes.jsonl"));
    const auto test_scenes = mod::test::read_scenes(on.str("test/scenes.jsonl"));
    int changed = 0;
    for (const char* file : {"train/multitask.json", "test/vqa.json"}) {
        const nlohmann::json a = read_json(off.path() / file), b = read_json(on.path() / file);
        EXPECT_EQ(a.size(), b.size()) << file;
        const auto& scenes = std::string(file).rfind("train", 0) == 0 ? train_scenes : test_scenes;
        for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
            if (a[i] == b[i]) continue;
            ++changed;
            check(a[i], b[i], scenes.at(b[i]["image"]));
        }
    }
    for (const char* file : {"train/general.json", "train/preference.json", "test/pope_random.json", "test/chair.json"}) {
        EXPECT_EQ(read_json(off.path() / file), read_json(on.path() / file)) << file;
    }
    EXPECT_EQ(read_json(on.path() / "meta.json")["config"][key], true);
    EXPECT_EQ(read_json(off.path() / "meta.json")["config"][key], false);
    return changed;
}

TEST(World, ReasonedRelationsChangeOnlyTheRelationAnswers) {
    const std::string short_suffix = std::string("\n") + mod::data::kShortAnswerSuffix;
    const std::string reasoned_suffix = std::string("\n") + mod::data::kReasonedRelationSuffix;
    const int relations = compare_question_style(
        &mod::data::QuestionStyle::reasoned_relations, "reasoned_relations",
        [&](const nlohmann::json& bare, const nlohmann::json& reasoned, const mod::data::Scene& scene) {
            ASSERT_EQ(bare["task"], "relation") << bare["id"];
            // The same question under the other instruction; the bare answer is the conclusion.
            std::string question = bare["conversations"][0]["value"];
            question.replace(question.size() - short_suffix.size(), short_suffix.size(), reasoned_suffix);
            EXPECT_EQ(reasoned["conversations"][0]["value"], question);
            const std::string answer = reasoned["conversations"][1]["value"];
            const std::string conclusion = ", so " + bare["conversations"][1]["value"].get<std::string>() + ".";
            ASSERT_GT(answer.size(), conclusion.size());
            EXPECT_EQ(answer.substr(answer.size() - conclusion.size()), conclusion) << answer;
            EXPECT_EQ(mod::test::check_answer(scene, question, answer), "") << reasoned["id"];
        });
    EXPECT_GT(relations, 20);
}

TEST(World, ComparedRelationsAddHowTheTwoShapesStandBeforeTheConclusion) {
    mod::data::QuestionStyle reasoned;
    reasoned.reasoned_relations = true;
    std::set<std::string> comparisons;
    const int relations = compare_question_style(
        &mod::data::QuestionStyle::compared_relations, "compared_relations",
        [&](const nlohmann::json& plain, const nlohmann::json& compared, const mod::data::Scene& scene) {
            ASSERT_EQ(plain["task"], "relation") << plain["id"];
            const std::string question = compared["conversations"][0]["value"];
            EXPECT_EQ(plain["conversations"][0]["value"], question);
            const std::string answer = compared["conversations"][1]["value"];
            EXPECT_EQ(mod::test::compared_answer(scene, question), answer) << compared["id"];
            // The reasoned answer with one step inserted before its conclusion.
            const std::string before = plain["conversations"][1]["value"];
            const size_t conclusion = before.rfind(mod::data::kConclusionMark);
            ASSERT_NE(conclusion, std::string::npos) << before;
            EXPECT_EQ(answer.substr(0, conclusion), before.substr(0, conclusion));
            EXPECT_EQ(answer.substr(answer.size() - (before.size() - conclusion)), before.substr(conclusion));
            std::smatch m;
            const std::string step = answer.substr(conclusion, answer.size() - before.size());
            if (std::regex_match(step, m, std::regex(", so the \\w+ \\w+ (.+) the \\w+ \\w+"))) comparisons.insert(m[1]);
        },
        reasoned);
    EXPECT_GT(relations, 20);
    // Every way two shapes stand along a line comes up.
    EXPECT_EQ(comparisons, (std::set<std::string>{"is to the left of", "is to the right of", "is above", "is below",
                                                  "shares a column with", "shares a row with"}));
    // Without reasoned answers there are no steps to add one to.
    TempDir dir;
    mod::data::WorldConfig c = small_world(dir.str(), 5, 4, 2);
    c.style.compared_relations = true;
    EXPECT_THROW(mod::data::write_world(c), mod::data::DataError);
}

TEST(World, SwappedNegativesChangeOnlyTheNegativeExistenceQuestions) {
    const std::regex named("Is there a (\\w+) (\\w+) in the image\\?\n.*");
    const int swapped = compare_question_style(
        &mod::data::QuestionStyle::swapped_negatives, "swapped_negatives",
        [&](const nlohmann::json&, const nlohmann::json& sample, const mod::data::Scene& scene) {
            // A "no" that names a colour and a kind the scene holds, each on another shape.
            ASSERT_EQ(sample["task"], "existence") << sample["id"];
            const std::string question = sample["conversations"][0]["value"];
            EXPECT_EQ(sample["conversations"][1]["value"], "no") << question;
            std::smatch m;
            const std::string text = question.substr(question.find('\n') + 1);
            ASSERT_TRUE(std::regex_match(text, m, named)) << question;
            bool colour_held = false, kind_held = false;
            for (const mod::data::Object* o : mod::data::shape_objects(scene)) {
                colour_held |= m[1] == mod::data::colour_name(o->colour);
                kind_held |= m[2] == mod::data::shape_name(o->shape);
            }
            EXPECT_TRUE(colour_held && kind_held) << question;
            EXPECT_EQ(mod::test::check_answer(scene, question, "no"), "") << question;
        });
    EXPECT_GT(swapped, 10);
}

TEST(World, BadTaskWeightsAreNamed) {
    TempDir dir;
    mod::data::WorldConfig c = small_world(dir.str(), 5);
    for (const char* spec : {"relations=2", "relation", "relation=-1", "relation=101", "relation=x",
                             "color=0,shape=0,count=0,position=0,relation=0,text=0,existence=0"}) {
        c.task_weights = spec;
        try {
            mod::data::write_world(c);
            ADD_FAILURE() << spec << " was accepted";
        } catch (const mod::data::DataError& e) {
            EXPECT_NE(std::string(e.what()).find(std::string("task_weights \"") + spec + "\""), std::string::npos) << e.what();
        }
    }
    EXPECT_FALSE(fs::exists(dir.path() / "meta.json"));
    EXPECT_EQ(mod::data::parse_task_weights("relation=3,position=2"), (std::vector<int>{1, 1, 1, 2, 3, 1, 1}));
    EXPECT_EQ(mod::data::parse_task_weights(""), std::vector<int>(7, 1));
}

TEST_F(WorldTruth, PreferenceChosenTrueRejectedFalse) {
    int pairs = 0;
    for (const auto& pair : read_json(dir_->path() / "train/preference.json")) {
        const mod::data::Scene& scene = train_.at(pair["image"]);
        const std::string question = pair["chosen"][0]["value"];
        EXPECT_EQ(pair["rejected"][0]["value"], question);
        EXPECT_EQ(mod::test::check_answer(scene, question, pair["chosen"][1]["value"]), "") << pair["id"];
        EXPECT_NE(mod::test::check_answer(scene, question, pair["rejected"][1]["value"]), "") << pair["id"];
        ++pairs;
    }
    EXPECT_EQ(pairs, 300);
}

TEST_F(WorldTruth, ChairObjectsMatchScene) {
    for (const auto& entry : read_json(dir_->path() / "test/chair.json")) {
        const mod::data::Scene scene = mod::data::scene_from_json(entry["scene"], "chair.json");
        std::vector<std::string> objects;
        for (const mod::data::Object* o : mod::data::shape_objects(scene)) objects.push_back(mod::data::shape_name(o->shape));
        EXPECT_EQ(entry["objects"].get<std::vector<std::string>>(), objects);
        EXPECT_EQ(scene_to_json(scene).dump(), scene_to_json(test_.at(entry["image"])).dump());
    }
}

TEST_F(WorldTruth, PopeNegativesFollowTheirStrategy) {
    // Statistics of the training scenes, computed here: scenes containing each shape, and pairs.
    std::map<std::string, double> freq;
    std::map<std::pair<std::string, std::string>, double> co;
    for (const auto& [rel, scene] : train_) {
        std::set<std::string> present;
        for (const mod::data::Object* o : mod::data::shape_objects(scene)) present.insert(mod::data::shape_name(o->shape));
        for (const std::string& a : present) {
            freq[a] += 1;
            for (const std::string& b : present) co[{a, b}] += a != b;
        }
    }
    // Mean popularity and co-occurrence score of the negatives of each strategy.
    auto mean_scores = [&](const char* strategy) {
        double pop = 0, adv = 0;
        int n = 0;
        for (const auto& probe : read_json(dir_->path() / (std::string("test/pope_") + strategy + ".json"))) {
            if (probe["conversations"][1]["value"] != "no") continue;
            const std::string object = probe["object"];
            pop += freq[object];
            for (const mod::data::Object* o : mod::data::shape_objects(test_.at(probe["image"]))) {
                adv += co[{mod::data::shape_name(o->shape), object}];
            }
            ++n;
        }
        return std::make_pair(pop / n, adv / n);
    };
    const auto random = mean_scores("random");
    EXPECT_GT(mean_scores("popular").first, random.first);
    EXPECT_GT(mean_scores("adversarial").second, random.second);
}

TEST_F(WorldTruth, PixelsAgreeWithScene) {
    // The centre pixel of every filled shape has the shape's colour (rings are hollow, text is thin).
    int checked = 0;
    for (const auto& [rel, scene] : train_) {
        const mod::data::ImageRgb img = mod::data::read_image(dir_->str("train/" + rel));
        ASSERT_EQ(img.width, 64);
        const int cell = img.width / mod::data::kGrid, margin = (img.width - cell * mod::data::kGrid) / 2;
        for (const mod::data::Object& o : scene.objects) {
            if (o.shape == mod::data::Shape::ring || o.shape == mod::data::Shape::text) continue;
            const uint8_t* p = img.at(margin + o.col * cell + cell / 2, margin + o.row * cell + cell / 2);
            const auto rgb = mod::data::colour_rgb(o.colour);
            EXPECT_TRUE(p[0] == rgb[0] && p[1] == rgb[1] && p[2] == rgb[2]) << rel << " " << mod::data::shape_name(o.shape);
            ++checked;
        }
    }
    EXPECT_GT(checked, 500);
}

}  // namespace
