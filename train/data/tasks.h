// Questions and answers derived from scene truth: short-answer VQA per task type (the multi-task
// data and the held-out test set) and sentence-answer turns for general conversations.
#pragma once

#include "data/scene.h"

#include <string>
#include <vector>

namespace mod::data {

class Rng;

// LLaVA's instruction for short answers, appended to every VQA question.
inline constexpr const char* kShortAnswerSuffix = "Answer the question using a single word or phrase.";
// The instruction of a reasoned relation question, whose answer names the column (for left and
// right) or the row (above, below) of each of the two shapes before it says yes or no: "The red
// circle is in the left column and the blue square is in the center column, so yes." Each step
// is then one lookup by name, asked right where it is needed, and the conclusion compares two
// words at fixed places before it (whole cells, "top left" against "center", left it to learn
// which of a cell's words counts, and no model learned that: docs/RESULTS.md).
inline constexpr const char* kReasonedRelationSuffix = "Say the column or row of each shape, then answer yes or no.";
// What joins a reasoned answer's steps to its conclusion.
inline constexpr const char* kConclusionMark = ", so ";
// What joins each shape of a reasoned answer's steps to its line (data::line_name).
inline constexpr const char* kStatedLineMark = " is in the ";
// How a compared answer's last step says that its two shapes share the line the relation compares.
inline constexpr const char* kSharedColumn = "shares a column with";
inline constexpr const char* kSharedRow = "shares a row with";

struct QA {
    std::string task;      // color, shape, count, position, relation, text, existence, general
    std::string question;  // without the image placeholder or answer-format suffix
    std::string answer;
    std::string instruction = kShortAnswerSuffix;  // the line after the question
};

const std::vector<std::string>& vqa_task_names();

// Whether the scene can pose this task (text needs a text object, relation two shapes).
bool task_possible(const Scene& scene, const std::string& task);

// How a world words some of its questions (data::WorldConfig holds them, meta.json records them).
struct QuestionStyle {
    // Relation questions answered with their steps (kReasonedRelationSuffix), not a bare yes or no.
    bool reasoned_relations = false;
    // With reasoned_relations: one more step before yes or no says how the two shapes stand along
    // that line, "..., so the red circle is to the left of the blue square, so yes." The lines
    // are then compared where that step is written, and the conclusion only matches its relation
    // against the question's.
    bool compared_relations = false;
    // A negative existence question names, where the scene allows it, one shape's colour with
    // another shape's kind: "Is there a red circle?" beside a red square and a blue circle. Only
    // a model that finds both words on one shape answers it; otherwise a negative names a colour
    // or a shape the scene does not hold at all.
    bool swapped_negatives = false;
};

// A question of the given task, worded as `style` says; the task must be possible.
QA make_vqa(const Scene& scene, const std::string& task, Rng& rng, const QuestionStyle& style = {});

// One general-conversation turn with a full-sentence answer.
QA make_general_turn(const Scene& scene, Rng& rng);

// The relation words of relation questions and whether a (at ra, ca) stands so to b (at rb, cb).
const std::vector<std::string>& relation_names();
bool relation_holds(const std::string& relation, int ra, int ca, int rb, int cb);
// Whether the relation compares columns (to the left of, to the right of) rather than rows.
bool relation_compares_columns(const std::string& relation);
// How a shape in line `a` stands to one in line `b`, both columns or both rows (index 0: left,
// top), as a compared answer says it: "is " and the relation that holds ("is to the left of",
// "is below"), or kSharedColumn / kSharedRow.
std::string line_comparison(bool columns, int a, int b);
// The line of `o` the relation compares: its column for left and right, its row for above and
// below ("left column", "top row"; data::line_name).
std::string compared_line(const Object& o, const std::string& relation);
// The question with the image tag right after each shape it names by colour and kind ("Is the red
// circle<image> above the blue square<image>?"), so that the image is shown once per name; a
// question that names none gets the image after its first line (with_image_tag). Each image
// position can then mark whether it shows the shape named just before it, one lookup per block,
// which a model learns as it does for one name (docs/RESULTS.md).
std::string with_image_after_names(const std::string& question);
// The first question of a conversation with the image where a world puts it: after each named
// shape (after_names), else after the question's first line (after_question), else before it.
// make_world writes its questions so, and chat_mod asks so, from the model's config.
std::string with_image_placed(const std::string& question, bool after_question, bool after_names);
// The relation a relation question asks ("Is the red circle above the blue square?" -> "above"),
// or nullptr when it asks none.
const std::string* asked_relation(const std::string& question);

}  // namespace mod::data
