// Scoring a model on a world's held-out sets (METHOD.md §4):
//   <world>/test/vqa.json                      understanding: exact-match accuracy per "task"
//   <world>/test/pope_{random,popular,adversarial}.json   yes/no existence probes
//   <world>/test/chair.json                    free captions scored against "objects"
// plus total and activated parameters and decode speed. Answers are generated greedily with the
// KV cache. Rates are fractions in [0, 1]; a rate with an empty denominator is 0.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "data/scene.h"
#include "models/mllm.h"
#include "text/tokenizer.h"

namespace mod::train {

// --- metrics on answers (no model involved) ---

// Lowercase, surrounding whitespace trimmed, one trailing period dropped: "Red." -> "red".
std::string normalize_answer(const std::string& answer);
// POPE's rule: the normalised answer starts with "yes".
bool answer_is_yes(const std::string& answer);

struct Accuracy {
    int64_t correct = 0;
    int64_t total = 0;
    double rate() const { return total > 0 ? static_cast<double>(correct) / total : 0.0; }
    void add(bool ok);
};

// A reasoned answer's conclusion: what follows its last ", so " (data::kConclusionMark), after
// normalize_answer; the whole normalised answer when it has none. "The red circle is in the left
// column and the blue square is in the center column, so yes." -> "yes".
std::string answer_conclusion(const std::string& answer);
// The lines a reasoned relation answer states, in order: after each " is in the "
// (data::kStatedLineMark), up to the next " and " or ",". The example above -> {"left column",
// "center column"}.
std::vector<std::string> stated_lines(const std::string& answer);

// What a lookup of shape `o` gives, as a right answer would say it: its colour for a colour
// question, its cell for a position question, and for a relation question the line the asked
// relation compares ("left column" for "to the left of", "top row" for "above"): the value a
// lookup row compares with the named shape's and the other shapes'.
std::string looked_up(const data::Object& o, const std::string& task, const std::string& question);

// The conclusions (answer_conclusion) match exactly: a short answer is its own conclusion, and a
// reasoned one is scored by what it concludes.
bool answer_matches(const std::string& answer, const std::string& truth);

// Whether a reasoned relation answer concludes what its own steps give: the relation the
// question asks (data::relation_names) between the two lines the answer states, right or wrong
// ones. "Is the red circle to the left of the blue square?" with "The red circle is in the
// center column and the blue square is in the left column, so no." -> true. nullopt when the
// question asks no relation or the answer does not state two lines of the axis the relation
// compares and a conclusion of yes or no. It tells a model that cannot compare two lines from
// one that cannot find them.
std::optional<bool> conclusion_follows_steps(const std::string& question, const std::string& answer);

// The comparison step of a compared relation answer (data::QuestionStyle::compared_relations):
// how it says the two shapes stand, between its last two ", so " marks. "..., so the red circle
// is to the left of the blue square, so yes." -> "is to the left of" (a data::line_comparison
// phrase); nullopt when the answer has no such step.
std::optional<std::string> stated_comparison(const std::string& answer);
// Whether that step is what the two lines the answer states give (data::line_comparison), right
// or wrong lines: tells a model that cannot compare the lines it found.
std::optional<bool> comparison_follows_steps(const std::string& answer);
// Whether the conclusion is yes exactly when the stated comparison is the relation the question
// asks: tells a model that cannot match its comparison against the question.
std::optional<bool> conclusion_follows_comparison(const std::string& question, const std::string& answer);

// The confusion counts of yes/no probes; "positive" = the object is present / the answer is yes.
struct PopeMetrics {
    int64_t tp = 0, fp = 0, tn = 0, fn = 0;
    void add(bool answered_yes, bool present);
    int64_t total() const { return tp + fp + tn + fn; }
    double accuracy() const;
    double precision() const;
    double recall() const;
    double f1() const;
    double yes_ratio() const;  // share of answers that are yes
};

// Shapes a caption mentions: words (lowercased, split at non-letters) that are a shape's name or
// plural. Text objects are not shapes here, as in chair.json's "objects".
std::set<data::Shape> mentioned_shapes(const std::string& caption);

// CHAIR over captions: each caption's mentioned shapes (a shape counts once per caption) against
// the shapes in its image.
struct ChairMetrics {
    int64_t captions = 0;
    int64_t hallucinated_captions = 0;  // captions with at least one mentioned shape not in the image
    int64_t mentioned = 0;              // mentioned shapes, summed over captions
    int64_t hallucinated = 0;           // of those, shapes not in the image
    void add(const std::string& caption, const std::set<data::Shape>& present);
    double chair_i() const { return mentioned > 0 ? static_cast<double>(hallucinated) / mentioned : 0.0; }
    double chair_s() const { return captions > 0 ? static_cast<double>(hallucinated_captions) / captions : 0.0; }
};

// Colour and position questions about one shape of a scene that holds two or more: whether the
// answer names the asked shape's attribute, or another shape's. A model that reads whichever
// object it finds, not the one the question names, answers "another shape's" about as often as
// "right" (with two shapes) instead of rarely: the lookup by name the relation questions need.
// Reasoned relation answers count each of their two stated positions as a position lookup.
struct LookupMetrics {
    int64_t questions = 0;
    int64_t right = 0;
    int64_t another = 0;  // wrong, and the colour (position) of another shape in the scene
    // `answer` and `truth` normalised; `attributes` the colour (position) names of the scene's shapes.
    void add(const std::string& answer, const std::string& truth, const std::vector<std::string>& attributes);
    double right_rate() const { return questions > 0 ? static_cast<double>(right) / questions : 0.0; }
    double another_rate() const { return questions > 0 ? static_cast<double>(another) / questions : 0.0; }
};

// --- evaluating a model ---

struct EvalOptions {
    int64_t limit = 0;                // first N samples of each file; 0 = all
    int64_t answer_tokens = 64;       // max_new_tokens for answers to questions (VQA, POPE): a compared relation answer takes ~40
    int64_t caption_tokens = 128;     // max_new_tokens for captions
    // Called after each sample: the set ("vqa", "pope_random", ..., "chair"), samples done, samples in it.
    std::function<void(const std::string& set, int64_t done, int64_t total)> on_progress;
};

// One generated answer, kept so that a reader can see what a model got wrong.
struct AnswerRecord {
    std::string set;       // vqa, pope_random, pope_popular, pope_adversarial, chair
    std::string task;      // the sample's task: the VQA task type, pope_<split>; empty for chair
    std::string image;     // the image path
    std::string question;  // the last human turn
    std::string truth;     // the expected answer; for chair, the shapes in the image
    std::string answer;    // the model's answer
    bool correct = false;  // vqa: exact match; pope: yes/no agrees; chair: no shape hallucinated
};

struct EvalResult {
    std::string name;                        // the column title: the model folder
    std::map<std::string, Accuracy> tasks;   // per task type
    Accuracy vqa_overall;                    // all VQA samples together
    std::map<std::string, PopeMetrics> pope;  // per split: random, popular, adversarial
    ChairMetrics chair;
    // "color", "position", "relation" (the steps of reasoned answers): from the world's
    // test/scenes.jsonl; empty for a data folder without it.
    std::map<std::string, LookupMetrics> lookup;
    Accuracy relation_steps_followed;  // reasoned relation answers: conclusion_follows_steps, where defined
    Accuracy comparison_followed;      // compared relation answers: comparison_follows_steps, where defined
    Accuracy conclusion_matched;       // and conclusion_follows_comparison, where defined
    models::ParameterCounts params;
    int64_t decode_tokens = 0;  // one-token forwards over every generation
    double decode_seconds = 0;
    std::vector<AnswerRecord> answers;  // every answer, in the order of the sets
    double decode_tokens_per_second() const { return decode_seconds > 0 ? decode_tokens / decode_seconds : 0.0; }

    nlohmann::ordered_json to_json() const;  // the metrics (answers are written apart)
};

// One JSON object per line for each answer: {"model", "set", "task", "image", "question",
// "truth", "answer", "correct"}.
std::string answers_jsonl(const EvalResult& result);

// Scores `model` on world_dir/test. A missing set file is a data::DataError naming it; the lookup
// metrics need test/scenes.jsonl and are left out without it.
EvalResult evaluate(const models::LlavaModel& model, const text::Tokenizer& tok, const std::string& world_dir,
                    const EvalOptions& options, const std::string& name);

// A parameter count for tables: 1234567 -> "1.23M", 45600 -> "45.6K".
std::string count_si(int64_t n);

// One row per metric, one column per result, aligned as plain text: the side-by-side table.
std::string format_table(const std::vector<EvalResult>& results);

}  // namespace mod::train
