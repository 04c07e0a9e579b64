// Loading LLaVA JSON: the world's files load, and each bad input gives a message naming the file,
// line and column (malformed JSON) or the sample and the reason; skip_bad counts instead.
#include "data/chat_template.h"
#include "data/conversation.h"
#include "data/errors.h"
#include "data/tasks.h"
#include "data/world.h"
#include "temp_dir.h"

#include <gtest/gtest.h>

#include <fstream>

namespace {

using mod::data::JsonError;
using mod::data::LoadOptions;
using mod::test::TempDir;

std::string write(const TempDir& dir, const std::string& name, const std::string& text) {
    const std::string path = dir.str(name);
    std::ofstream(path) << text;
    return path;
}

// The message of the JsonError that loading `text` as conversations throws ("" when none).
std::string load_error(const std::string& text, bool preference = false) {
    TempDir dir;
    const std::string path = write(dir, "data.json", text);
    try {
        if (preference) {
            mod::data::load_preferences({path}, LoadOptions{});
        } else {
            mod::data::load_conversations({path}, LoadOptions{});
        }
    } catch (const JsonError& e) {
        const std::string what = e.what();
        const size_t at = what.find(path);
        return at == std::string::npos ? what : what.substr(0, at) + "data.json" + what.substr(at + path.size());
    }
    return "";
}

const char* kGood = R"({"id": "a", "image": "x.png", "conversations": [{"from": "human", "value": "<image>\nQ"}, {"from": "gpt", "value": "A"}]})";

// A small world of 50 training scenes, 10 test scenes and 20 preference pairs in dir.
mod::data::WorldStats write_small_world(const TempDir& dir) {
    mod::data::WorldConfig c;
    c.out = dir.str();
    c.images = 50;
    c.test_images = 10;
    c.preference_pairs = 20;
    return mod::data::write_world(c);
}

TEST(LoadConversations, LoadsTheWorldFilesCompletely) {
    TempDir dir;
    const mod::data::WorldStats stats = write_small_world(dir);
    mod::data::LoadReport report;
    const auto samples = mod::data::load_conversations({dir.str("train/general.json"), dir.str("train/multitask.json")}, {}, &report);
    EXPECT_EQ(static_cast<int64_t>(samples.size()), stats.general + stats.multitask);
    EXPECT_EQ(report.skipped, 0);
    EXPECT_EQ(samples.front().image, dir.str("train/images/000/000000.png"));
    EXPECT_EQ(mod::data::load_preferences({dir.str("train/preference.json")}, {}).size(), 20u);
    EXPECT_EQ(mod::data::load_conversations({dir.str("test/pope_adversarial.json")}, {}).size(),
              static_cast<size_t>(stats.pope / 3));  // the three strategies probe equally often
}

TEST(LoadConversations, ImageRootAndTextOnlySamples) {
    TempDir dir;
    const std::string path = write(dir, "d.json", std::string("[") + kGood +
                                                      R"(, {"id": 7, "conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}]}])");
    LoadOptions options;
    options.image_root = "/data/images";
    const auto samples = mod::data::load_conversations({path}, options);
    ASSERT_EQ(samples.size(), 2u);
    EXPECT_EQ(samples[0].image, "/data/images/x.png");
    EXPECT_EQ(samples[1].id, "7");
    EXPECT_EQ(samples[1].image, "");
}

TEST(LoadConversations, ImageWithoutTagGetsOneFirst) {
    TempDir dir;
    const std::string path = write(dir, "d.json", R"([{"id": "a", "image": "x.png", "conversations": [{"from": "human", "value": "Q"}, {"from": "gpt", "value": "A"}]}])");
    EXPECT_EQ(mod::data::load_conversations({path}, {})[0].messages[0].value, "<image>\nQ");
}

TEST(ImageTag, BeforeTheQuestionOrAfterItsFirstLine) {
    using mod::data::with_image_tag;
    EXPECT_EQ(with_image_tag("What color is the star?", false), "<image>\nWhat color is the star?");
    EXPECT_EQ(with_image_tag("What color is the star?", true), "What color is the star?\n<image>");
    EXPECT_EQ(with_image_tag("Is it red?\nAnswer briefly.", false), "<image>\nIs it red?\nAnswer briefly.");
    EXPECT_EQ(with_image_tag("Is it red?\nAnswer briefly.", true), "Is it red?\n<image>\nAnswer briefly.");
    EXPECT_EQ(with_image_tag("", true), "\n<image>");
}

TEST(ImageTag, AfterEachNamedShape) {
    using mod::data::with_image_after_names;
    EXPECT_EQ(with_image_after_names("Is the red circle above the blue square?\nSay yes or no."),
              "Is the red circle<image> above the blue square<image>?\nSay yes or no.");
    EXPECT_EQ(with_image_after_names("Where is the green ring?"), "Where is the green ring<image>?");
    // Only "the <colour> <shape>" as whole words: no plural, no text object, no other article, and
    // the world writes every name lower-case after "the".
    EXPECT_EQ(with_image_after_names("Are the red circles left?"), "Are the red circles left?\n<image>");
    EXPECT_EQ(with_image_after_names("Is the red text here?"), "Is the red text here?\n<image>");
    EXPECT_EQ(with_image_after_names("Is there a red circle?"), "Is there a red circle?\n<image>");
    EXPECT_EQ(with_image_after_names("Did I bathe red circle?"), "Did I bathe red circle?\n<image>");
    EXPECT_EQ(with_image_after_names("What color is the circle?\nAnswer."), "What color is the circle?\n<image>\nAnswer.");
    EXPECT_EQ(mod::data::with_image_placed("Where is the red star?", true, false), "Where is the red star?\n<image>");
    EXPECT_EQ(mod::data::with_image_placed("Where is the red star?", false, false), "<image>\nWhere is the red star?");
    EXPECT_EQ(mod::data::with_image_placed("Where is the red star?", false, true), "Where is the red star<image>?");
}

TEST(LoadConversations, AnImageIsShownAtEachTagOfItsHumanTurns) {
    TempDir dir;
    const std::string path = write(dir, "d.json", R"([{"id": "a", "image": "x.png", "conversations": [
        {"from": "human", "value": "Is the red circle<image> above the blue star<image>?"}, {"from": "gpt", "value": "yes"},
        {"from": "human", "value": "And <image> now?"}, {"from": "gpt", "value": "no"}]}])");
    const auto samples = mod::data::load_conversations({path}, {});
    ASSERT_EQ(samples.size(), 1u);
    EXPECT_EQ(samples[0].messages[0].value, "Is the red circle<image> above the blue star<image>?");
    EXPECT_EQ(load_error(R"([{"id": "g", "image": "x.png", "conversations": [{"from": "human", "value": "Q"}, {"from": "gpt", "value": "A <image>"}]}])"),
              "[load_conversations] data.json:1:2: sample \"g\": message 1 is a gpt answer with <image>; the image is shown in human turns");
}

TEST(LoadConversations, TaskFilterKeepsOnlyTheNamedTypes) {
    TempDir dir;
    write_small_world(dir);
    const std::string multitask = dir.str("train/multitask.json");
    const auto all = mod::data::load_conversations({multitask}, {});
    size_t existence = 0, colour = 0;
    for (const auto& s : all) {
        existence += s.task == "existence";
        colour += s.task == "color";
    }
    ASSERT_GT(existence, 0u);
    ASSERT_GT(colour, 0u);
    LoadOptions options;
    options.tasks = {"existence", "color"};
    mod::data::LoadReport report;
    const auto kept = mod::data::load_conversations({multitask}, options, &report);
    EXPECT_EQ(kept.size(), existence + colour);
    EXPECT_EQ(report.loaded, static_cast<int64_t>(kept.size()));
    EXPECT_EQ(report.skipped, 0);  // left out by the filter is not skipped
    for (const auto& s : kept) EXPECT_TRUE(s.task == "existence" || s.task == "color") << s.id;
    // The general conversations name no task: the filter keeps none of them.
    options.tasks = {"existence"};
    EXPECT_TRUE(mod::data::load_conversations({dir.str("train/general.json")}, options).empty());
}

TEST(LoadErrors, TaskMustBeAString) {
    EXPECT_EQ(load_error(R"([{"id": "k", "task": 3, "conversations": [{"from": "human", "value": "Q"}, {"from": "gpt", "value": "A"}]}])"),
              "[load_conversations] data.json:1:2: sample \"k\": \"task\" is not a string");
}

TEST(LoadErrors, MalformedJsonNamesFileLineColumn) {
    EXPECT_EQ(load_error("[\n  {\"id\": \"a\",\n   \"conversations\": [}\n]"),
              "[load_conversations] data.json:3:22: syntax error while parsing value - unexpected '}'; expected '[', '{', or a literal");
}

TEST(LoadErrors, TruncatedFile) {
    EXPECT_NE(load_error(std::string("[") + kGood).find("data.json:1:"), std::string::npos);
}

TEST(LoadErrors, UnknownRoleNamesSampleAndRole) {
    EXPECT_EQ(load_error("[\n" + std::string(kGood) + R"(,
 {"id": "b", "conversations": [{"from": "bot", "value": "x"}]}])"),
              "[load_conversations] data.json:3:2: sample \"b\": conversations[0]: unknown role \"bot\" (expected \"human\" or \"gpt\")");
}

TEST(LoadErrors, EmptyConversation) {
    EXPECT_EQ(load_error(R"([{"id": "e", "conversations": []}])"),
              "[load_conversations] data.json:1:2: sample \"e\": empty conversation");
}

TEST(LoadErrors, ImageTagWithoutImage) {
    EXPECT_EQ(load_error(R"([{"id": "n", "conversations": [{"from": "human", "value": "<image>\nQ"}, {"from": "gpt", "value": "A"}]}])"),
              "[load_conversations] data.json:1:2: sample \"n\": <image> in the text but the sample has no \"image\"");
}

TEST(LoadErrors, TurnsMustAlternateAndEndWithAnAnswer) {
    EXPECT_NE(load_error(R"([{"id": "t", "conversations": [{"from": "gpt", "value": "A"}]}])").find("must alternate"),
              std::string::npos);
    EXPECT_NE(load_error(R"([{"id": "t", "conversations": [{"from": "human", "value": "Q"}]}])").find("ends without a gpt answer"),
              std::string::npos);
}

TEST(LoadErrors, NotAListOrNotObjects) {
    EXPECT_EQ(load_error(R"({"id": "x"})"), "[load_conversations] data.json:1:1: expected a JSON list of samples");
    // Like every element, a scalar one is located by its first character.
    EXPECT_EQ(load_error("[1]"), "[load_conversations] data.json:1:2: sample \"#0\": expected an object");
    EXPECT_EQ(load_error(R"([{"id": "m", "conversations": [{"from": "human"}]}])"),
              "[load_conversations] data.json:1:2: sample \"m\": conversations[0]: expected {\"from\": string, \"value\": string}");
}

TEST(LoadErrors, MissingFile) {
    EXPECT_THROW(mod::data::load_conversations({"/nonexistent/data.json"}, {}), JsonError);
}

TEST(LoadErrors, PreferencePromptsMustMatch) {
    EXPECT_EQ(load_error(R"([{"id": "p", "chosen": [{"from": "human", "value": "Q"}, {"from": "gpt", "value": "A"}],
                                "rejected": [{"from": "human", "value": "Q2"}, {"from": "gpt", "value": "B"}]}])",
                         true),
              "[load_preferences] data.json:1:2: sample \"p\": \"chosen\" and \"rejected\" have different prompts");
}

TEST(LoadErrors, SkipBadCountsAndKeepsTheRest) {
    TempDir dir;
    const std::string path = write(dir, "d.json", std::string("[") + kGood + R"(,
        {"id": "b", "conversations": [{"from": "bot", "value": "x"}]},
        {"id": "e", "conversations": []}, )" + kGood + "]");
    LoadOptions options;
    options.skip_bad = true;
    mod::data::LoadReport report;
    EXPECT_EQ(mod::data::load_conversations({path}, options, &report).size(), 2u);
    EXPECT_EQ(report.loaded, 2);
    EXPECT_EQ(report.skipped, 2);
    ASSERT_EQ(report.first_errors.size(), 2u);
    EXPECT_NE(report.first_errors[0].find("sample \"b\": conversations[0]: unknown role \"bot\""), std::string::npos);
}

TEST(ChatTemplate, RendersThePublicQwenTemplate) {
    mod::data::ChatTemplate chat;
    chat.system = "SYS";
    const std::vector<mod::data::Message> m = {{mod::data::Role::human, "<image>\nQ1"}, {mod::data::Role::gpt, "A1"},
                                               {mod::data::Role::human, "Q2"}, {mod::data::Role::gpt, "A2"}};
    const mod::data::TemplatedText t = mod::data::apply_chat_template(m, chat);
    EXPECT_EQ(t.text, "SYS USER: <image>\nQ1 ASSISTANT: A1<|endoftext|>USER: Q2 ASSISTANT: A2<|endoftext|>");
    ASSERT_EQ(t.answer_spans.size(), 2u);
    EXPECT_EQ(t.text.substr(t.answer_spans[0].first, t.answer_spans[0].second - t.answer_spans[0].first), " A1<|endoftext|>");
    EXPECT_EQ(t.text.substr(t.answer_spans[1].first, t.answer_spans[1].second - t.answer_spans[1].first), " A2<|endoftext|>");
    EXPECT_EQ(mod::data::generation_prompt({m[0]}, chat), "SYS USER: <image>\nQ1 ASSISTANT:");
}

TEST(ChatTemplate, AnEmptySystemLineLeavesItAndItsSpaceOut) {
    mod::data::ChatTemplate chat;
    chat.system = "";
    const std::vector<mod::data::Message> m = {{mod::data::Role::human, "<image>\nQ1"}, {mod::data::Role::gpt, "A1"}};
    const mod::data::TemplatedText t = mod::data::apply_chat_template(m, chat);
    EXPECT_EQ(t.text, "USER: <image>\nQ1 ASSISTANT: A1<|endoftext|>");
    ASSERT_EQ(t.answer_spans.size(), 1u);
    EXPECT_EQ(t.text.substr(t.answer_spans[0].first, t.answer_spans[0].second - t.answer_spans[0].first), " A1<|endoftext|>");
    EXPECT_EQ(mod::data::generation_prompt({m[0]}, chat), "USER: <image>\nQ1 ASSISTANT:");
}

}  // namespace
