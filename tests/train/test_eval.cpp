// Evaluation: the metrics against hand-computed values on hand-written answers (normalisation,
// per-task accuracy, POPE, CHAIR), the JSON and the side-by-side table, and one end-to-end run of
// evaluate() on a small generated world with a tiny random model (counts, limit, the kept answers,
// missing files, a test conversation without a question).
#include "trainer/eval.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "core/random.h"
#include "data/errors.h"
#include "data/world.h"
#include "models/config.h"
#include "temp_dir.h"
#include "text/train_bpe.h"
#include "trainer/seed_table.h"

namespace {

using namespace mod;
using data::Shape;

TEST(EvalMetrics, NormalizeAnswer) {
    EXPECT_EQ(train::normalize_answer("  Red.\n"), "red");
    EXPECT_EQ(train::normalize_answer("Top Left"), "top left");
    EXPECT_EQ(train::normalize_answer("3.."), "3.");  // only one trailing period goes
    EXPECT_EQ(train::normalize_answer(" "), "");
    EXPECT_TRUE(train::answer_matches(" Circle.", "circle"));
    EXPECT_FALSE(train::answer_matches("circles", "circle"));
    EXPECT_TRUE(train::answer_is_yes(" Yes."));
    EXPECT_TRUE(train::answer_is_yes("yes, there is"));
    EXPECT_FALSE(train::answer_is_yes("no"));
    EXPECT_FALSE(train::answer_is_yes("I think yes"));
}

TEST(EvalMetrics, ReasonedAnswersAreScoredByTheirConclusion) {
    const std::string truth = "The red circle is in the left column and the blue square is in the center column, so yes.";
    EXPECT_EQ(train::answer_conclusion(truth), "yes");
    EXPECT_EQ(train::answer_conclusion(" No."), "no");  // a short answer is its own conclusion
    EXPECT_EQ(train::answer_conclusion("a, so b, so C."), "c");
    EXPECT_TRUE(train::answer_matches("The red circle is in the right column and the blue square is in the left column, so yes.", truth));
    EXPECT_TRUE(train::answer_matches("yes", truth));
    EXPECT_FALSE(train::answer_matches("The red circle is in the left column and the blue square is in the center column, so no.", truth));
    EXPECT_FALSE(train::answer_matches("The red circle is in the left column", truth));  // no conclusion
    EXPECT_EQ(train::stated_lines(truth), (std::vector<std::string>{"left column", "center column"}));
    EXPECT_EQ(train::stated_lines("The red circle is in the bottom row, so"), (std::vector<std::string>{"bottom row"}));
    EXPECT_TRUE(train::stated_lines("The red circle is in the").empty());  // cut off: nothing stated
    EXPECT_TRUE(train::stated_lines("yes").empty());
}

// The comparison alone: the conclusion against the lines the answer itself states, right or not.
TEST(EvalMetrics, AReasonedConclusionIsCheckedAgainstItsOwnSteps) {
    const std::string left = "Is the red circle to the left of the blue square?\nSay the column or row of each shape, then answer yes or no.";
    const std::string above = "<image>\nIs the red circle above the blue square?\nSay the column or row of each shape, then answer yes or no.";
    auto steps = [](const char* a, const char* b, const char* conclusion) {
        return std::string("The red circle is in the ") + a + " and the blue square is in the " + b + ", so " +
               conclusion + ".";
    };
    EXPECT_EQ(train::conclusion_follows_steps(left, steps("left column", "center column", "yes")), std::optional<bool>(true));
    EXPECT_EQ(train::conclusion_follows_steps(left, steps("left column", "center column", "no")), std::optional<bool>(false));
    // Lines that may be wrong for the image: only the step from them to the conclusion counts.
    EXPECT_EQ(train::conclusion_follows_steps(left, steps("center column", "left column", "no")), std::optional<bool>(true));
    EXPECT_EQ(train::conclusion_follows_steps(left, steps("center column", "center column", "no")), std::optional<bool>(true));
    EXPECT_EQ(train::conclusion_follows_steps(left, steps("left column", "right column", "yes")), std::optional<bool>(true));
    EXPECT_EQ(train::conclusion_follows_steps(above, steps("bottom row", "top row", "no")), std::optional<bool>(true));
    EXPECT_EQ(train::conclusion_follows_steps(above, steps("top row", "middle row", "no")), std::optional<bool>(false));
    // Nothing to check: no steps, one step, a line of the other axis, an unknown line, no yes or no, no relation.
    EXPECT_FALSE(train::conclusion_follows_steps(left, "yes").has_value());
    EXPECT_FALSE(train::conclusion_follows_steps(left, "The red circle is in the left column, so yes.").has_value());
    EXPECT_FALSE(train::conclusion_follows_steps(left, steps("top row", "center column", "yes")).has_value());
    EXPECT_FALSE(train::conclusion_follows_steps(above, steps("top row", "left column", "yes")).has_value());
    EXPECT_FALSE(train::conclusion_follows_steps(left, steps("moon column", "center column", "yes")).has_value());
    EXPECT_FALSE(train::conclusion_follows_steps(left, steps("left column", "center column", "maybe")).has_value());
    EXPECT_FALSE(train::conclusion_follows_steps("Where is the red circle?", steps("left column", "center column", "yes")).has_value());
}

// A compared answer splits that step in two: the lines to how the shapes stand, and how they
// stand to the question's relation; each is checked against what the answer itself says.
TEST(EvalMetrics, ACompareStepIsCheckedAgainstTheLinesAndTheConclusionAgainstIt) {
    const std::string left = "Is the red circle to the left of the blue square?\nSay the column or row of each shape, then answer yes or no.";
    const std::string below = "Is the red circle below the blue square?\nSay the column or row of each shape, then answer yes or no.";
    auto compared = [](const char* a, const char* b, const char* how, const char* conclusion) {
        return std::string("The red circle is in the ") + a + " and the blue square is in the " + b + ", so the red circle " +
               how + " the blue square, so " + conclusion + ".";
    };
    EXPECT_EQ(train::stated_comparison(compared("left column", "center column", "is to the left of", "yes")),
              std::optional<std::string>("is to the left of"));
    EXPECT_EQ(train::stated_comparison(compared("top row", "top row", "shares a row with", "no")),
              std::optional<std::string>("shares a row with"));
    EXPECT_EQ(train::stated_comparison(compared("top row", "top row", "hugs", "no")), std::nullopt);
    EXPECT_EQ(train::stated_comparison("The red circle is in the left column and the blue square is in the center column, so yes."),
              std::nullopt);
    // The comparison against the stated lines, right for the image or not.
    EXPECT_EQ(train::comparison_follows_steps(compared("left column", "center column", "is to the left of", "no")),
              std::optional<bool>(true));
    EXPECT_EQ(train::comparison_follows_steps(compared("right column", "center column", "is to the left of", "yes")),
              std::optional<bool>(false));
    EXPECT_EQ(train::comparison_follows_steps(compared("center column", "center column", "shares a column with", "no")),
              std::optional<bool>(true));
    EXPECT_EQ(train::comparison_follows_steps(compared("bottom row", "middle row", "is below", "yes")), std::optional<bool>(true));
    EXPECT_EQ(train::comparison_follows_steps(compared("bottom row", "middle row", "is above", "yes")), std::optional<bool>(false));
    EXPECT_EQ(train::comparison_follows_steps(compared("bottom row", "left column", "is above", "yes")), std::nullopt);
    // The conclusion against the stated comparison and the question's relation, whatever the lines.
    EXPECT_EQ(train::conclusion_follows_comparison(left, compared("right column", "left column", "is to the left of", "yes")),
              std::optional<bool>(true));
    EXPECT_EQ(train::conclusion_follows_comparison(left, compared("left column", "right column", "is to the right of", "yes")),
              std::optional<bool>(false));
    EXPECT_EQ(train::conclusion_follows_comparison(below, compared("top row", "top row", "shares a row with", "no")),
              std::optional<bool>(true));
    EXPECT_EQ(train::conclusion_follows_comparison(below, compared("top row", "middle row", "is below", "no")),
              std::optional<bool>(false));
    EXPECT_EQ(train::conclusion_follows_comparison(below, compared("top row", "middle row", "is below", "maybe")), std::nullopt);
    EXPECT_EQ(train::conclusion_follows_comparison("Where is the red circle?", compared("top row", "middle row", "is below", "no")),
              std::nullopt);
}

// What a lookup row compares: the named shape's colour, cell, or line on the relation's axis.
TEST(EvalMetrics, ALookupGivesTheAttributeTheQuestionAsksFor) {
    data::Object o;
    o.shape = data::Shape::circle;
    o.colour = data::Colour::red;
    o.row = 0;
    o.col = 2;
    EXPECT_EQ(train::looked_up(o, "color", "What color is the circle?"), "red");
    EXPECT_EQ(train::looked_up(o, "position", "Where is the red circle?"), "top right");
    const std::string suffix = "?\nSay the column or row of each shape, then answer yes or no.";
    EXPECT_EQ(train::looked_up(o, "relation", "Is the red circle to the left of the blue square" + suffix), "right column");
    EXPECT_EQ(train::looked_up(o, "relation", "<image>\nIs the blue square to the right of the red circle" + suffix), "right column");
    EXPECT_EQ(train::looked_up(o, "relation", "Is the red circle above the blue square" + suffix), "top row");
    EXPECT_EQ(train::looked_up(o, "relation", "Is the blue square below the red circle" + suffix), "top row");
}

TEST(EvalMetrics, AccuracyPerTask) {
    struct Row {
        const char* task;
        const char* answer;
        const char* truth;
    };
    const Row rows[] = {{"color", "Red.", "red"}, {"color", "blue", "red"}, {"color", " green", "green"},
                        {"count", "3", "3"},      {"count", "three", "3"}, {"shape", "star", "star"}};
    std::map<std::string, train::Accuracy> tasks;
    train::Accuracy overall;
    for (const Row& r : rows) {
        const bool ok = train::answer_matches(r.answer, r.truth);
        tasks[r.task].add(ok);
        overall.add(ok);
    }
    EXPECT_DOUBLE_EQ(tasks["color"].rate(), 2.0 / 3);
    EXPECT_DOUBLE_EQ(tasks["count"].rate(), 0.5);
    EXPECT_DOUBLE_EQ(tasks["shape"].rate(), 1.0);
    EXPECT_EQ(overall.correct, 4);
    EXPECT_EQ(overall.total, 6);
    EXPECT_EQ(train::Accuracy{}.rate(), 0.0);
}

TEST(EvalMetrics, PopeAgainstHandCounts) {
    // truth, answer -> tp tp fn fp tn tn fp tp: tp 3, fp 2, tn 2, fn 1
    const std::vector<std::pair<bool, std::string>> probes = {
        {true, "yes"}, {true, "Yes."}, {true, "no"}, {false, "yes"},
        {false, "no"}, {false, "No."}, {false, "yes"}, {true, "yes, there is"}};
    train::PopeMetrics m;
    for (const auto& [present, answer] : probes) m.add(train::answer_is_yes(answer), present);
    EXPECT_EQ(m.tp, 3);
    EXPECT_EQ(m.fp, 2);
    EXPECT_EQ(m.tn, 2);
    EXPECT_EQ(m.fn, 1);
    EXPECT_DOUBLE_EQ(m.accuracy(), 5.0 / 8);
    EXPECT_DOUBLE_EQ(m.precision(), 3.0 / 5);
    EXPECT_DOUBLE_EQ(m.recall(), 3.0 / 4);
    EXPECT_DOUBLE_EQ(m.f1(), 2 * 0.6 * 0.75 / (0.6 + 0.75));
    EXPECT_DOUBLE_EQ(m.yes_ratio(), 5.0 / 8);
    // Always "no": precision and F1 have empty denominators and read 0, not NaN.
    train::PopeMetrics never;
    never.add(false, true);
    never.add(false, false);
    EXPECT_EQ(never.precision(), 0.0);
    EXPECT_EQ(never.f1(), 0.0);
    EXPECT_EQ(never.yes_ratio(), 0.0);
}

TEST(EvalMetrics, MentionedShapes) {
    EXPECT_EQ(train::mentioned_shapes("Two Circles, a circle and a STAR."), (std::set<Shape>{Shape::circle, Shape::star}));
    EXPECT_EQ(train::mentioned_shapes("crosses and squares"), (std::set<Shape>{Shape::cross, Shape::square}));
    // Whole words only; "text" and "shapes" are not shapes.
    EXPECT_TRUE(train::mentioned_shapes("ringing starlight, the text \"AB\", 3 shapes").empty());
}

TEST(EvalMetrics, ChairAgainstHandCounts) {
    train::ChairMetrics m;
    m.add("A grey background with 2 shapes. There is a large red circle at the top left and a small blue star "
          "at the center.",
          {Shape::circle, Shape::star});                                       // 2 mentioned, 0 wrong
    m.add("Two circles and a triangle.", {Shape::circle});                     // 2 mentioned, 1 wrong
    m.add("Stars, crosses and a ring.", {Shape::ring, Shape::diamond});        // 3 mentioned, 2 wrong
    m.add("The text \"AB\" is written in white.", {Shape::square});            // 0 mentioned
    EXPECT_EQ(m.captions, 4);
    EXPECT_EQ(m.mentioned, 7);
    EXPECT_EQ(m.hallucinated, 3);
    EXPECT_EQ(m.hallucinated_captions, 2);
    EXPECT_DOUBLE_EQ(m.chair_i(), 3.0 / 7);
    EXPECT_DOUBLE_EQ(m.chair_s(), 0.5);
    EXPECT_EQ(train::ChairMetrics{}.chair_i(), 0.0);
}

train::EvalResult hand_result(const std::string& name, bool with_count) {
    train::EvalResult r;
    r.name = name;
    r.params = {123456, 65432};
    r.tasks["color"].add(true);
    r.tasks["color"].add(false);
    if (with_count) r.tasks["count"].add(true);
    r.vqa_overall = {with_count ? 2 : 1, with_count ? 3 : 2};
    r.pope["random"].add(true, true);
    r.pope["random"].add(true, false);
    r.chair.add("a circle and a star", {Shape::circle});
    if (with_count) {
        r.lookup["color"].add("red", "red", {"red", "blue"});
        r.lookup["color"].add("blue", "red", {"red", "blue"});
        for (bool follows : {true, true, false, true}) r.relation_steps_followed.add(follows);
    }
    r.decode_tokens = 100;
    r.decode_seconds = 4;
    return r;
}

TEST(EvalMetrics, LookupAgainstHandCounts) {
    train::LookupMetrics m;
    const std::vector<std::string> colours = {"red", "blue", "green"};
    m.add("red", "red", colours);     // right
    m.add("blue", "red", colours);    // another shape's colour
    m.add("green", "red", colours);   // another shape's colour
    m.add("yellow", "red", colours);  // neither
    EXPECT_EQ(m.questions, 4);
    EXPECT_EQ(m.right, 1);
    EXPECT_EQ(m.another, 2);
    EXPECT_DOUBLE_EQ(m.right_rate(), 0.25);
    EXPECT_DOUBLE_EQ(m.another_rate(), 0.5);
    EXPECT_DOUBLE_EQ(train::LookupMetrics{}.another_rate(), 0.0);
}

TEST(EvalTable, OneColumnPerModel) {
    const std::string table = train::format_table({hand_result("runs/teacher", true), hand_result("runs/student", false)});
    std::istringstream in(table);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    ASSERT_GT(lines.size(), 10u);
    // Header: the metric column, then the models in order.
    std::istringstream header(lines[0]);
    std::vector<std::string> words;
    for (std::string w; header >> w;) words.push_back(w);
    EXPECT_EQ(words, (std::vector<std::string>{"metric", "runs/teacher", "runs/student"}));
    // Every line has the same width (aligned columns), and each row holds two cells.
    for (const std::string& line : lines) EXPECT_EQ(line.size(), lines[0].size()) << line;
    auto row = [&](const std::string& label) {
        for (const std::string& line : lines) {
            if (line.rfind(label + " ", 0) == 0) {
                std::istringstream cells(line.substr(label.size()));
                std::vector<std::string> out;
                for (std::string c; cells >> c;) out.push_back(c);
                return out;
            }
        }
        return std::vector<std::string>{};
    };
    EXPECT_EQ(row("vqa color acc %"), (std::vector<std::string>{"50.0", "50.0"}));
    EXPECT_EQ(row("vqa count acc %"), (std::vector<std::string>{"100.0", "-"}));  // the student has no count row
    EXPECT_EQ(row("pope random yes-ratio %"), (std::vector<std::string>{"100.0", "100.0"}));
    EXPECT_EQ(row("chair_s %"), (std::vector<std::string>{"100.0", "100.0"}));
    EXPECT_EQ(row("parameters (total)"), (std::vector<std::string>{"123.5K", "123.5K"}));
    EXPECT_EQ(row("decode tokens/s"), (std::vector<std::string>{"25.0", "25.0"}));
    EXPECT_EQ(row("lookup color, 2+ shapes: another shape's %"), (std::vector<std::string>{"50.0", "-"}));
    EXPECT_TRUE(row("lookup position, 2+ shapes: right %").empty());  // no result has it
    EXPECT_EQ(row("lookup relation conclusion follows its steps %"), (std::vector<std::string>{"75.0", "-"}));
}

TEST(EvalTable, Json) {
    const nlohmann::ordered_json j = hand_result("runs/teacher", true).to_json();
    EXPECT_EQ(j["name"], "runs/teacher");
    EXPECT_EQ(j["parameters"]["activated"], 65432);
    EXPECT_DOUBLE_EQ(j["understanding"]["tasks"]["color"]["accuracy"].get<double>(), 0.5);
    EXPECT_DOUBLE_EQ(j["pope"]["random"]["precision"].get<double>(), 0.5);
    EXPECT_DOUBLE_EQ(j["chair"]["chair_i"].get<double>(), 0.5);
    EXPECT_DOUBLE_EQ(j["decode"]["tokens_per_second"].get<double>(), 25.0);
    EXPECT_DOUBLE_EQ(j["lookup"]["color"]["another_shape"].get<double>(), 0.5);
    EXPECT_EQ(j["lookup"]["color"]["questions"], 2);
    EXPECT_DOUBLE_EQ(j["relation_conclusion_follows_steps"]["rate"].get<double>(), 0.75);
    EXPECT_EQ(j["relation_conclusion_follows_steps"]["answers"], 4);
    EXPECT_FALSE(hand_result("runs/student", false).to_json().contains("relation_conclusion_follows_steps"));
}

// docs/RESULTS.md's table: per model, the mean over seeds and the sample standard deviation.
TEST(SeedTable, MeanAndSpreadPerModelOverSeeds) {
    nlohmann::json seed0 = {{"models", {hand_result("a", true).to_json(), hand_result("b", true).to_json()}}};
    nlohmann::json seed1 = seed0;
    seed1["models"][0]["understanding"]["tasks"]["color"]["accuracy"] = 0.7;
    const std::string table = train::seed_table_markdown({{"s0.json", seed0}, {"s1.json", seed1}}, {"(a) x", "(b) y"});
    EXPECT_EQ(table.substr(0, table.find('\n')), "| metric | (a) x | (b) y |");
    EXPECT_NE(table.find("| vqa color acc % | 60.0 ± 14.1 | 50.0 ± 0.0 |\n"), std::string::npos) << table;
    EXPECT_NE(table.find("| parameters (total) | 123.5K | 123.5K |\n"), std::string::npos) << table;
    EXPECT_NE(table.find("| CHAIR_s % | 100.0 ± 0.0 | 100.0 ± 0.0 |\n"), std::string::npos) << table;
    EXPECT_NE(table.find("| shapes named per caption | 2.00 ± 0.00 | 2.00 ± 0.00 |\n"), std::string::npos) << table;
    // One seed: no spread.
    const std::string one = train::seed_table_markdown({{"s0.json", seed0}}, {"(a) x", "(b) y"});
    EXPECT_NE(one.find("| vqa color acc % | 50.0 | 50.0 |\n"), std::string::npos) << one;
    // Another number of models than labels, or a missing metric, names the file.
    try {
        train::seed_table_markdown({{"s0.json", seed0}}, {"(a) x"});
        FAIL();
    } catch (const ValueError& e) {
        EXPECT_NE(std::string(e.what()).find("s0.json"), std::string::npos) << e.what();
    }
    seed1["models"][1].erase("chair");
    try {
        train::seed_table_markdown({{"s0.json", seed0}, {"s1.json", seed1}}, {"(a) x", "(b) y"});
        FAIL();
    } catch (const ValueError& e) {
        EXPECT_NE(std::string(e.what()).find("s1.json: model 1 has no number at /chair/chair_i"), std::string::npos)
            << e.what();
    }
}

TEST(Evaluate, RunsEverySetOfAWorldWithinTheLimit) {
    test::TempDir dir;
    data::WorldConfig world;
    world.out = dir.str("world");
    world.images = 4;
    world.test_images = 8;
    world.preference_pairs = 2;
    world.style.reasoned_relations = true;
    data::write_world(world);

    text::BpeTrainConfig bpe;
    bpe.vocab_size = 280;
    text::WordCounter words(bpe);
    words.add("Is there a circle in the image? Describe the image in detail. yes no red");
    const text::Tokenizer tok = text::train_bpe(words, bpe);
    models::MllmConfig config =
        models::load_family_config(std::string(MOD_SOURCE_DIR) + "/configs/tiny.json").student_mllm(false);
    config.lm.vocab_size = tok.vocab_size();
    config.image_token_id = tok.require_id(text::kImageToken);
    Generator gen(5);
    const models::LlavaModel model(config, gen);

    train::EvalOptions options;
    options.limit = 2;
    options.answer_tokens = 2;
    options.caption_tokens = 4;
    int64_t calls = 0;
    options.on_progress = [&](const std::string&, int64_t done, int64_t total) {
        ++calls;
        EXPECT_LE(done, total);
    };
    const train::EvalResult r = train::evaluate(model, tok, world.out, options, "tiny");
    EXPECT_EQ(r.name, "tiny");
    EXPECT_EQ(r.vqa_overall.total, 2);
    int64_t per_task = 0;
    for (const auto& [task, acc] : r.tasks) per_task += acc.total;
    EXPECT_EQ(per_task, 2);
    ASSERT_EQ(r.pope.size(), 3u);
    for (const auto& [split, m] : r.pope) EXPECT_EQ(m.total(), 2) << split;
    EXPECT_EQ(r.chair.captions, 2);
    EXPECT_EQ(calls, 2 + 3 * 2 + 2);
    EXPECT_GT(r.decode_tokens, 0);
    EXPECT_EQ(r.params.total, model.parameter_counts().total);

    // Every answer is kept, and its verdict agrees with the metrics.
    ASSERT_EQ(r.answers.size(), 2u + 3 * 2 + 2);
    std::map<std::string, int64_t> right;
    for (const train::AnswerRecord& a : r.answers) {
        right[a.set] += a.correct ? 1 : 0;
        EXPECT_FALSE(a.question.empty());
        EXPECT_EQ(a.task.empty(), a.set == "chair") << a.set;
    }
    EXPECT_EQ(right["vqa"], r.vqa_overall.correct);
    for (const auto& [split, m] : r.pope) EXPECT_EQ(right["pope_" + split], m.tp + m.tn) << split;
    EXPECT_EQ(right["chair"], r.chair.captions - r.chair.hallucinated_captions);
    const std::string lines = train::answers_jsonl(r);
    EXPECT_EQ(std::count(lines.begin(), lines.end(), '\n'), 10);
    const auto first = nlohmann::json::parse(lines.substr(0, lines.find('\n')));
    EXPECT_EQ(first.at("model"), "tiny");
    EXPECT_EQ(first.at("set"), "vqa");
    // An answer cut inside a multi-byte character is still written, the bad byte as U+FFFD.
    train::EvalResult cut;
    cut.name = "cut";
    cut.answers.push_back({"vqa", "text", "a.png", "What is written?", "AB", "A\xCB", false});
    EXPECT_EQ(nlohmann::json::parse(train::answers_jsonl(cut)).at("answer"), "A\xEF\xBF\xBD");

    EXPECT_THROW(train::evaluate(model, tok, dir.str("nowhere"), options, "tiny"), data::DataError);
    // The lookup counts every colour and position question of a scene with two or more shapes,
    // and the two steps of every reasoned relation answer.
    options.limit = 0;
    std::map<std::string, int64_t> expected;
    {
        std::map<std::string, int64_t> shapes_in;
        std::ifstream scenes(world.out + "/test/scenes.jsonl");
        for (std::string line; std::getline(scenes, line);) {
            const auto j = nlohmann::json::parse(line);
            for (const auto& o : j["scene"]["objects"]) shapes_in[world.out + "/test/" + j["image"].get<std::string>()] += o["shape"] != "text";
        }
        std::ifstream vqa(world.out + "/test/vqa.json");
        for (const auto& q : nlohmann::json::parse(vqa)) {
            const std::string task = q["task"];
            if ((task == "color" || task == "position") && shapes_in[world.out + "/test/" + q["image"].get<std::string>()] >= 2)
                ++expected[task];
            if (task == "relation") expected[task] += 2;
        }
    }
    const train::EvalResult all = train::evaluate(model, tok, world.out, options, "tiny");
    int64_t counted = 0;
    for (const auto& [task, m] : all.lookup) {
        EXPECT_EQ(m.questions, expected[task]) << task;
        if (task != "relation") {
            EXPECT_LE(m.right, all.tasks.at(task).correct) << task;
        }
        EXPECT_LE(m.right + m.another, m.questions) << task;
        counted += m.questions;
    }
    EXPECT_EQ(counted, expected["color"] + expected["position"] + expected["relation"]);
    EXPECT_GT(expected["relation"], 0);
    EXPECT_GT(counted, 0);
    // Without scenes.jsonl (a data folder not made by make_world) there is no lookup; a broken
    // one names its line.
    std::filesystem::rename(world.out + "/test/scenes.jsonl", world.out + "/scenes.jsonl.bak");
    EXPECT_TRUE(train::evaluate(model, tok, world.out, options, "tiny").lookup.empty());
    std::ofstream(world.out + "/test/scenes.jsonl") << "{\"image\": \"x.png\", \"scene\": {\"objects\": 3}}\n";
    try {
        train::evaluate(model, tok, world.out, options, "tiny");
        ADD_FAILURE() << "a broken scenes.jsonl was accepted";
    } catch (const data::DataError& e) {
        EXPECT_NE(std::string(e.what()).find("scenes.jsonl:1"), std::string::npos) << e.what();
    }
    options.limit = 2;
    // A test conversation without a question names the file.
    {
        std::ofstream f(world.out + "/test/vqa.json", std::ios::trunc);
        f << R"([{"image": "images/000/000000.png", "conversations": [{"from": "gpt", "value": "yes"}]}])";
    }
    try {
        train::evaluate(model, tok, world.out, options, "tiny");
        ADD_FAILURE() << "no error for an answer without a question";
    } catch (const data::DataError& e) {
        EXPECT_NE(std::string(e.what()).find("vqa.json"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("no question"), std::string::npos) << e.what();
    }
}

}  // namespace
