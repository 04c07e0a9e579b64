// The trainer: label positions, the distillation and preference losses against hand-computed
// values, and whole stages on a tiny world: each stage runs, resume continues bit for bit,
// a non-finite loss stops with the step and term named.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "core/elementwise.h"
#include "core/file_io.h"
#include "core/loss.h"
#include "core/random.h"
#include "core/reduce.h"
#include "core/softmax.h"
#include "data/chat_template.h"
#include "data/errors.h"
#include "data/world.h"
#include "models/config.h"
#include "bytes_tokenizer.h"
#include "temp_dir.h"
#include "trainer/batch_tensors.h"
#include "trainer/checkpoint.h"
#include "trainer/losses.h"
#include "trainer/progress.h"
#include "trainer/stages.h"
#include "trainer/vision_pretrain.h"
#include "trainer/workspace.h"

namespace mod::train {
namespace {

TEST(Trainer, ShiftedAndUnshiftedPositions) {
    Tensor labels = Tensor::from_vector<int64_t>({-100, -100, 5, 6, -100, -100, 7, -100}, {2, 4});
    LabelPositions s = shifted_positions(labels);
    EXPECT_EQ(s.rows.to_vector<int64_t>(), (std::vector<int64_t>{1, 2, 5}));
    EXPECT_EQ(s.targets.to_vector<int64_t>(), (std::vector<int64_t>{5, 6, 7}));
    EXPECT_EQ(s.sample.to_vector<int64_t>(), (std::vector<int64_t>{0, 0, 1}));
    LabelPositions u = unshifted_positions(labels);
    EXPECT_EQ(u.rows.to_vector<int64_t>(), (std::vector<int64_t>{2, 3, 6}));
}

// A row's image once per block, rows in order; text rows none.
TEST(Trainer, ModelInputsHoldAnImageForEachBlock) {
    data::Batch b;
    b.B = 3;
    b.T = 1;
    b.S = 1;
    b.ids = {1, 2, 3};
    b.labels = {-100, -100, -100};
    b.lengths = {1, 1, 1};
    b.image_blocks = {2, 0, 1};
    b.pixels = {1, 2, 3, 0, 0, 0, 7, 8, 9};
    const ModelInputs in = to_model_inputs(b);
    EXPECT_EQ(in.pixels.shape(), (std::vector<int64_t>{3, 3, 1, 1}));
    EXPECT_EQ(in.pixels.to_vector<float>(), (std::vector<float>{1, 2, 3, 1, 2, 3, 7, 8, 9}));
    b.image_blocks = {0, 0, 0};
    EXPECT_FALSE(to_model_inputs(b).pixels.defined());
}

TEST(Trainer, SequenceLogProbsAndCrossEntropy) {
    Generator gen(1);
    Tensor logits = randn({2, 4, 6}, gen, DType::F64);
    Tensor labels = Tensor::from_vector<int64_t>({-100, -100, 5, 1, -100, -100, 2, -100}, {2, 4});
    LabelPositions pos = shifted_positions(labels);
    std::vector<double> lp = log_softmax(logits, 2).to_vector<double>();
    auto at = [&](int b, int t, int v) { return lp[(b * 4 + t) * 6 + v]; };
    std::vector<double> got = sequence_log_probs(logits, pos, 2).to_vector<double>();
    EXPECT_NEAR(got[0], at(0, 1, 5) + at(0, 2, 1), 1e-12);
    EXPECT_NEAR(got[1], at(1, 1, 2), 1e-12);
    EXPECT_NEAR(response_cross_entropy(logits, pos).item(), -(at(0, 1, 5) + at(0, 2, 1) + at(1, 1, 2)) / 3, 1e-12);
}

TEST(Trainer, PreferenceLossesMatchTheirFormulas) {
    // Two pairs: policy and reference log-probs of chosen rows, then rejected rows.
    Tensor policy = Tensor::from_vector<double>({-1.0, -2.0, -3.0, -1.5}, {4});
    Tensor ref = Tensor::from_vector<double>({-1.5, -2.5, -2.0, -1.0}, {4});
    const double beta = 0.5;
    const double rc[2] = {0.5, 0.5}, rr[2] = {-1.0, -0.5};
    auto sig = [](double x) { return 1.0 / (1.0 + std::exp(-x)); };
    PreferenceLoss dpo = preference_loss("dpo", policy, ref, beta);
    const double want = (-std::log(sig(beta * (rc[0] - rr[0]))) - std::log(sig(beta * (rc[1] - rr[1])))) / 2;
    EXPECT_NEAR(dpo.loss.item(), want, 1e-12);
    EXPECT_NEAR(dpo.margin, beta * ((rc[0] - rr[0]) + (rc[1] - rr[1])) / 2, 1e-12);
    EXPECT_EQ(dpo.accuracy, 1.0);
    PreferenceLoss kto = preference_loss("kto_pair", policy, ref, beta);
    const double kl_c = std::max(0.0, (rc[0] + rc[1]) / 2), kl_r = std::max(0.0, (rr[0] + rr[1]) / 2);
    double k = 0;
    for (int i = 0; i < 2; ++i) k += (1 - sig(beta * (rc[i] - kl_r))) + (1 - sig(beta * (kl_c - rr[i])));
    EXPECT_NEAR(kto.loss.item(), k / 4, 1e-12);
    EXPECT_THROW(preference_loss("ipo", policy, ref, beta), ValueError);
    // Stable for large margins: no overflow to inf.
    Tensor far = Tensor::from_vector<double>({-1000.0, 1000.0}, {2});
    EXPECT_TRUE(std::isfinite(preference_loss("dpo", far, Tensor::zeros({2}, DType::F64), 1.0).loss.item()));
}

TEST(Trainer, DistillationLossDropsPaddedTeacherVocabulary) {
    Generator gen(2);
    Tensor s = randn({1, 3, 5}, gen, DType::F64), t = randn({1, 3, 7}, gen, DType::F64);
    Tensor labels = Tensor::from_vector<int64_t>({-100, 1, 2}, {1, 3});
    LabelPositions pos = shifted_positions(labels);
    Tensor want = soft_cross_entropy(s.reshape({3, 5}).narrow(0, 0, 2).contiguous(),
                                     t.reshape({3, 7}).narrow(0, 0, 2).narrow(1, 0, 5).contiguous(), 2.0);
    EXPECT_NEAR(distillation_loss(s, t, pos, 2.0).item(), want.item(), 1e-12);
    EXPECT_THROW(distillation_loss(t, s, pos, 1.0), ShapeError);
}

// A tiny world and tokenizer shared by the stage tests.
class Stages : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = std::make_unique<test::TempDir>();
        data::WorldConfig w;
        w.out = dir_->str("world");
        w.images = 48;
        w.test_images = 8;
        w.preference_pairs = 32;
        data::write_world(w);
    }
    static void TearDownTestSuite() { dir_.reset(); }

    TrainOptions options(const std::string& stage, const std::string& out,
                         const std::vector<std::string>& extra = {}) const {
        std::string config = std::string(MOD_SOURCE_DIR) + "/configs/tiny.json";
        std::vector<std::string> args = {"train_mod", "stage=" + stage, "config=" + config, "data=" + dir_->str("world"),
                                         "out=" + dir_->str(out), "teacher=" + dir_->str("teacher"),
                                         "student=" + dir_->str("imitation"), "steps=6", "batch_size=4",
                                         "save_every=3", "log_every=1", "lr=1e-3"};
        args.insert(args.end(), extra.begin(), extra.end());
        std::vector<const char*> c;
        for (const std::string& a : args) c.push_back(a.c_str());
        return *parse_train_options(static_cast<int>(c.size()), c.data());
    }

    // Runs `stage` whole into `full`, then into `cut_out` stopped after each count of `stops`
    // steps and resumed, and expects each of `terms` of `phase`'s 6 steps equal bit for bit.
    void expect_resume_bit_for_bit(const std::string& stage, const std::string& full, const std::string& cut_out,
                                   const std::vector<std::string>& extra, const std::vector<int64_t>& stops,
                                   const std::string& phase, const std::vector<std::string>& terms) const {
        ASSERT_TRUE(run_stage(options(stage, full, extra)));
        TrainOptions cut = options(stage, cut_out, extra);
        for (int64_t stop : stops) {
            cut.stop_after = stop;
            EXPECT_FALSE(run_stage(cut));
            cut.resume = cut.out;
        }
        cut.stop_after = 0;
        ASSERT_TRUE(run_stage(cut));
        const auto a = read_metrics(dir_->str(full + "/" + phase + "/metrics.jsonl"));
        const auto b = read_metrics(dir_->str(cut_out + "/" + phase + "/metrics.jsonl"));
        for (const std::string& term : terms) {
            ASSERT_EQ(a.at(term).size(), 6u) << term;
            EXPECT_EQ(a.at(term), b.at(term)) << term;
        }
    }

    // The trainer state a teacher run saved with its last SFT checkpoint ("step", "position", ...).
    static std::string sft_state(const std::string& out) {
        return read_text_file(dir_->str(out + "/sft/checkpoint/trainer_state.json"));
    }

    static std::unique_ptr<test::TempDir> dir_;
};
std::unique_ptr<test::TempDir> Stages::dir_;

TEST_F(Stages, EveryStageRuns) {
    ASSERT_TRUE(run_stage(options("teacher", "teacher")));
    EXPECT_TRUE(std::filesystem::exists(dir_->str("teacher/final/model.safetensors")));
    EXPECT_TRUE(std::filesystem::exists(dir_->str("teacher/sft/loss.png")));
    EXPECT_TRUE(std::filesystem::exists(dir_->str("teacher/train_config.json")));
    ASSERT_TRUE(run_stage(options("imitation", "imitation")));
    EXPECT_TRUE(std::filesystem::exists(dir_->str("imitation/d2d/checkpoint/optimizer.safetensors")));
    ASSERT_TRUE(run_stage(options("preference", "preference")));
    EXPECT_EQ(read_metrics(dir_->str("preference/dpo/metrics.jsonl"))["dpo"].size(), 6u);
}

// The baselines of docs/RESULTS.md: plain SFT, imitation without upcycling, a widened student.
TEST_F(Stages, SftAndImitationWithoutUpcyclingKeepTheStudentDense) {
    ASSERT_TRUE(run_stage(options("sft", "sft", {"upcycle=false"})));
    for (const char* phase : {"general", "multitask"}) {
        auto m = read_metrics(dir_->str(std::string("sft/") + phase + "/metrics.jsonl"));
        EXPECT_EQ(m["ce"].size(), 6u) << phase;
        EXPECT_EQ(m.count("kd"), 0u) << phase;  // no teacher logits in plain SFT
    }
    const LoadedModel sft = load_model(dir_->str("sft/final"));
    EXPECT_FALSE(sft.model->config.sparse);

    ASSERT_TRUE(run_stage(options("imitation", "wide", {"upcycle=false", "student_intermediate_size=72"})));
    EXPECT_EQ(read_metrics(dir_->str("wide/d2s/metrics.jsonl"))["kd"].size(), 6u);
    const LoadedModel wide = load_model(dir_->str("wide/final"));
    EXPECT_FALSE(wide.model->config.sparse);
    EXPECT_EQ(wide.model->config.lm.intermediate_size, 72);
    EXPECT_GT(wide.model->parameter_counts().activated, sft.model->parameter_counts().activated);

    TrainOptions preference = options("preference", "wide_dpo");
    preference.student = dir_->str("wide");
    EXPECT_THROW(run_stage(preference), ValueError);  // preference distillation needs the sparse student
}

// kd_mask=unshifted: KD and CE read different rows, so the second phase computes full logits.
TEST_F(Stages, UnshiftedKdMaskRunsBothPhases) {
    ASSERT_TRUE(run_stage(options("imitation", "unshifted", {"kd_mask=unshifted"})));
    for (const char* phase : {"d2d", "d2s"}) {
        const auto kd = read_metrics(dir_->str(std::string("unshifted/") + phase + "/metrics.jsonl"))["kd"];
        ASSERT_EQ(kd.size(), 6u) << phase;
        for (const auto& [step, v] : kd) EXPECT_TRUE(std::isfinite(v) && v > 0) << phase << " step " << step;
    }
}

TEST_F(Stages, ResumeContinuesBitForBit) {
    ASSERT_TRUE(run_stage(options("teacher", "teacher")));
    // Uninterrupted: both imitation phases, 6 steps each.
    ASSERT_TRUE(run_stage(options("imitation", "full")));
    // Stopped twice (inside d2d, then inside d2s) and resumed each time.
    TrainOptions cut = options("imitation", "cut");
    cut.stop_after = 4;
    EXPECT_FALSE(run_stage(cut));  // d2d stops at step 4
    cut.resume = cut.out;
    cut.stop_after = 5;
    EXPECT_FALSE(run_stage(cut));  // d2d finishes (2 steps), d2s stops at step 5
    cut.stop_after = 0;
    ASSERT_TRUE(run_stage(cut));
    for (const char* phase : {"d2d", "d2s"}) {
        auto a = read_metrics(dir_->str(std::string("full/") + phase + "/metrics.jsonl"));
        auto b = read_metrics(dir_->str(std::string("cut/") + phase + "/metrics.jsonl"));
        ASSERT_EQ(a["kd"].size(), 6u) << phase;
        EXPECT_EQ(a["kd"], b["kd"]) << phase;  // exact equality: same bits
        EXPECT_EQ(a["grad_norm"], b["grad_norm"]) << phase;
    }
}

// teacher_first_tasks: the first steps read the existence questions alone, the rest the whole
// data; a run cut before, at and after the switch continues bit for bit.
TEST_F(Stages, TeacherFirstTasksSwitchDataAndResumeBitForBit) {
    const std::vector<std::string> first = {"teacher_first_tasks=existence", "teacher_first_share=0.5"};
    // Stops at steps 2, 3 (the switch) and 5.
    expect_resume_bit_for_bit("teacher", "first-full", "first-cut", first, {2, 1, 2}, "sft", {"ce", "grad_norm"});
    const auto a = read_metrics(dir_->str("first-full/sft/metrics.jsonl"));
    // After the switch the position counts the whole data's batches from its start: 3 steps of 4.
    EXPECT_NE(sft_state("first-full").find("\"position\": 12"), std::string::npos) << sft_state("first-full");
    // The same run without the first part reads other batches, so its losses differ.
    ASSERT_TRUE(run_stage(options("teacher", "first-none")));
    EXPECT_NE(read_metrics(dir_->str("first-none/sft/metrics.jsonl")).at("ce"), a.at("ce"));
}

// group_by_length: batches of similar length, in an order that a cut run resumes bit for bit.
TEST_F(Stages, GroupByLengthResumesBitForBit) {
    // Windows of 3 batches of 4; stops at steps 1 and 4, inside the first and second window.
    expect_resume_bit_for_bit("teacher", "grouped-full", "grouped-cut", {"group_by_length=3"}, {1, 3}, "sft", {"ce", "grad_norm"});
    ASSERT_TRUE(run_stage(options("teacher", "grouped-none")));
    EXPECT_NE(read_metrics(dir_->str("grouped-none/sft/metrics.jsonl")).at("ce"),
              read_metrics(dir_->str("grouped-full/sft/metrics.jsonl")).at("ce"));
}

// Two parts in order (existence questions for steps 1-2, then colour questions for steps 3-4,
// then the whole data): a run cut at each switch continues bit for bit, and the order matters.
// Preference with the reference's log-probs computed once (6 steps of 2 x 4 pairs visit all 32): a
// cut run resumes bit for bit, and the first step's loss equals, up to rounding, that of a run
// too short for the table (3 steps of 2 x 4), which runs the reference at every step.
TEST_F(Stages, PreferenceWithTheReferenceTableResumesBitForBit) {
    ASSERT_TRUE(run_stage(options("teacher", "teacher")));
    ASSERT_TRUE(run_stage(options("imitation", "imitation")));
    testing::internal::CaptureStderr();
    expect_resume_bit_for_bit("preference", "table-full", "table-cut", {"grad_accum=2"}, {2, 2}, "dpo",
                              {"dpo", "margin", "grad_norm"});
    const std::string said = testing::internal::GetCapturedStderr();
    EXPECT_NE(said.find("reference log-probs of 32 pairs computed once"), std::string::npos) << said;

    // preference_steps, not steps, counts this stage's steps.
    TrainOptions short_run = options("preference", "table-none", {"grad_accum=2", "preference_steps=3"});
    ASSERT_GT(short_run.steps, 3);
    testing::internal::CaptureStderr();
    ASSERT_TRUE(run_stage(short_run));
    EXPECT_EQ(testing::internal::GetCapturedStderr().find("computed once"), std::string::npos);
    EXPECT_EQ(read_metrics(dir_->str("table-none/dpo/metrics.jsonl")).at("dpo").back().first, 3);
    const double with_table = read_metrics(dir_->str("table-full/dpo/metrics.jsonl")).at("dpo").at(0).second;
    const double per_step = read_metrics(dir_->str("table-none/dpo/metrics.jsonl")).at("dpo").at(0).second;
    EXPECT_NEAR(with_table, per_step, 1e-5 * std::abs(per_step));
}

TEST_F(Stages, TeacherFirstPartsRunInOrderAndResumeBitForBit) {
    const std::vector<std::string> parts = {"teacher_first_tasks=existence,color", "teacher_first_share=0.3333,0.3333"};
    // Stops at steps 2 and 4, where the parts end.
    expect_resume_bit_for_bit("teacher", "parts-full", "parts-cut", parts, {2, 2}, "sft", {"ce"});
    const auto a = read_metrics(dir_->str("parts-full/sft/metrics.jsonl"));
    // The whole data starts from its beginning after the last part: 2 steps of 4.
    EXPECT_NE(sft_state("parts-full").find("\"position\": 8"), std::string::npos) << sft_state("parts-full");
    // Steps 1-2 equal a run with the existence part alone; the reversed order differs from the start.
    ASSERT_TRUE(run_stage(options("teacher", "parts-one", {"teacher_first_tasks=existence", "teacher_first_share=0.3333"})));
    const auto one = read_metrics(dir_->str("parts-one/sft/metrics.jsonl")).at("ce");
    ASSERT_EQ(one.size(), 6u);
    EXPECT_EQ(one[0], a.at("ce")[0]);
    EXPECT_EQ(one[1], a.at("ce")[1]);
    EXPECT_NE(one[2], a.at("ce")[2]);
    ASSERT_TRUE(run_stage(options("teacher", "parts-reversed", {"teacher_first_tasks=color,existence",
                                                                "teacher_first_share=0.3333,0.3333"})));
    EXPECT_NE(read_metrics(dir_->str("parts-reversed/sft/metrics.jsonl")).at("ce")[0], a.at("ce")[0]);
}

TEST_F(Stages, TeacherFirstTasksNeedTheirStepsAndExistingTypes) {
    EXPECT_THROW(options("teacher", "x", {"teacher_first_share=0.5"}), data::ArgError);
    EXPECT_THROW(options("teacher", "x", {"teacher_first_tasks=existence"}), data::ArgError);
    EXPECT_THROW(options("teacher", "x", {"teacher_first_tasks=existence", "teacher_first_share=1"}), data::ArgError);
    EXPECT_THROW(options("teacher", "x", {"teacher_first_tasks=existence,text", "teacher_first_share=0.5"}), data::ArgError);
    EXPECT_THROW(options("teacher", "x", {"teacher_first_tasks=existence,text", "teacher_first_share=0.5,0.5"}),
                 data::ArgError);  // together above 0.99
    EXPECT_THROW(options("teacher", "x", {"teacher_first_tasks=existence", "teacher_first_share=half"}), data::ArgError);
    EXPECT_THROW(options("teacher", "x", {"teacher_first_tasks=existence+", "teacher_first_share=0.5"}), data::ArgError);
    // One part of two task types.
    const TrainOptions o = options("teacher", "x", {"teacher_first_tasks=existence+color", "teacher_first_share=0.34"});
    ASSERT_EQ(o.teacher_first.size(), 1u);
    EXPECT_EQ(o.teacher_first[0].tasks, (std::vector<std::string>{"existence", "color"}));
    EXPECT_EQ(o.teacher_first[0].steps, 2);  // of 6
    EXPECT_TRUE(o.student_first.empty());
    // Two parts in order, each its share, rounded at their cumulative ends (100 and 150 of 300).
    const TrainOptions two = options("teacher", "x", {"teacher_first_tasks=existence,text", "teacher_first_share=0.3333,0.1667",
                                                     "teacher_steps=300"});
    ASSERT_EQ(two.teacher_first.size(), 2u);
    EXPECT_EQ(two.teacher_first[0].tasks, (std::vector<std::string>{"existence"}));
    EXPECT_EQ(two.teacher_first[1].tasks, (std::vector<std::string>{"text"}));
    EXPECT_EQ(two.teacher_first[0].steps, 100);
    EXPECT_EQ(two.teacher_first[1].steps, 50);
    // The share scales with teacher_steps, and the whole data gets at least the last step.
    EXPECT_EQ(options("teacher", "x", {"teacher_first_tasks=existence", "teacher_first_share=0.34", "teacher_steps=300"})
                  .teacher_first[0].steps,
              102);
    EXPECT_EQ(options("teacher", "x", {"teacher_first_tasks=existence", "teacher_first_share=0.9", "teacher_steps=2"})
                  .teacher_first[0].steps,
              1);
    try {
        run_stage(options("teacher", "first-typo", {"teacher_first_tasks=existance", "teacher_first_share=0.5"}));
        FAIL() << "a task type no sample has must stop the run";
    } catch (const ValueError& e) {
        EXPECT_NE(std::string(e.what()).find("multitask.json: no sample whose \"task\" is one of existance"),
                  std::string::npos)
            << e.what();
    }
}

// student_first_tasks: the start of the student's first phase reads the existence questions
// alone (distilled from the teacher like the rest), then general.json; the share counts the
// phase's steps, not teacher_steps; a run cut at the switch continues bit for bit.
TEST_F(Stages, StudentFirstTasksStartTheFirstPhaseAndResumeBitForBit) {
    EXPECT_THROW(options("imitation", "x", {"student_first_share=0.5"}), data::ArgError);
    EXPECT_THROW(options("imitation", "x", {"student_first_tasks=existence"}), data::ArgError);
    EXPECT_EQ(options("imitation", "x", {"student_first_tasks=existence", "student_first_share=0.5", "teacher_steps=300"})
                  .student_first.at(0)
                  .steps,
              3);
    ASSERT_TRUE(run_stage(options("teacher", "teacher")));
    const std::vector<std::string> first = {"student_first_tasks=existence", "student_first_share=0.5", "phase=d2d"};
    expect_resume_bit_for_bit("imitation", "student-first-full", "student-first-cut", first, {3}, "d2d", {"kd"});  // the switch
    const auto a = read_metrics(dir_->str("student-first-full/d2d/metrics.jsonl"));
    // After the switch the position counts general.json's batches from its start: 3 steps of 4.
    const std::string state = read_text_file(dir_->str("student-first-full/d2d/checkpoint/trainer_state.json"));
    EXPECT_NE(state.find("\"position\": 12"), std::string::npos) << state;
    ASSERT_TRUE(run_stage(options("imitation", "student-first-none", {"phase=d2d"})));
    EXPECT_NE(read_metrics(dir_->str("student-first-none/d2d/metrics.jsonl")).at("kd"), a.at("kd"));
}

// second_phase_data: the files the second phase reads (multitask.json unless set); here
// general.json's captions and conversations too, so its batches, and losses, differ.
TEST_F(Stages, SecondPhaseDataNamesTheSecondPhasesFiles) {
    EXPECT_EQ(options("sft", "x").second_phase_data, (std::vector<std::string>{"multitask.json"}));
    EXPECT_THROW(options("sft", "x", {"second_phase_data="}), data::ArgError);
    ASSERT_TRUE(run_stage(options("teacher", "teacher")));
    ASSERT_TRUE(run_stage(options("sft", "second-default", {"upcycle=false"})));
    ASSERT_TRUE(run_stage(options("sft", "second-mixed", {"upcycle=false", "second_phase_data=multitask.json,general.json"})));
    const auto a = read_metrics(dir_->str("second-default/multitask/metrics.jsonl"));
    const auto b = read_metrics(dir_->str("second-mixed/multitask/metrics.jsonl"));
    ASSERT_EQ(b.at("ce").size(), 6u);
    EXPECT_NE(a.at("ce"), b.at("ce"));
    // The first phase is the same in both.
    EXPECT_EQ(read_metrics(dir_->str("second-default/general/metrics.jsonl")).at("ce"),
              read_metrics(dir_->str("second-mixed/general/metrics.jsonl")).at("ce"));
    try {
        run_stage(options("sft", "second-missing", {"upcycle=false", "second_phase_data=captions.json"}));
        FAIL() << "a missing file must stop the run";
    } catch (const std::exception& e) {
        EXPECT_NE(std::string(e.what()).find("captions.json"), std::string::npos) << e.what();
    }
}

// The system line a teacher trains with is kept in its config.json; its students read the same
// text (distillation compares the two on it), and a student stage given another line stops.
TEST_F(Stages, StudentsTakeTheirTeachersSystemLine) {
    using Line = std::optional<std::string>;
    ASSERT_TRUE(run_stage(options("teacher", "teacher")));
    ASSERT_TRUE(run_stage(options("teacher", "terse-teacher", {"system_prompt="})));
    EXPECT_EQ(models::load_mllm_config(dir_->str("teacher/final/config.json")).system_prompt, Line(data::kDefaultSystem));
    EXPECT_EQ(models::load_mllm_config(dir_->str("terse-teacher/final/config.json")).system_prompt, Line(""));
    EXPECT_NE(read_metrics(dir_->str("teacher/sft/metrics.jsonl")).at("ce"),
              read_metrics(dir_->str("terse-teacher/sft/metrics.jsonl")).at("ce"));

    TrainOptions student = options("imitation", "terse-imitation");
    student.teacher = dir_->str("terse-teacher");
    ASSERT_TRUE(run_stage(student));
    EXPECT_EQ(models::load_mllm_config(dir_->str("terse-imitation/final/config.json")).system_prompt, Line(""));

    TrainOptions other = options("imitation", "other-line", {"system_prompt=Be brief."});
    other.teacher = dir_->str("terse-teacher");
    try {
        run_stage(other);
        ADD_FAILURE() << "a student stage took a system line its teacher was not trained with";
    } catch (const ValueError& e) {
        EXPECT_NE(std::string(e.what()).find("system_prompt=\"Be brief.\": the teacher in " + other.teacher), std::string::npos)
            << e.what();
    }
    // The teacher as DPO reference must read the pairs as the student does.
    TrainOptions preference = options("preference", "mixed-lines");
    preference.student = dir_->str("terse-imitation");
    EXPECT_THROW(run_stage(preference), ValueError);
    preference.teacher = dir_->str("terse-teacher");
    EXPECT_TRUE(run_stage(preference));
}

TEST_F(Stages, NonFiniteLossStopsNamingTheStep) {
    ASSERT_TRUE(run_stage(options("teacher", "teacher")));
    TrainOptions o = options("imitation", "nan");
    o.tau = 1e-300;  // underflows the scaled logits to inf - inf = NaN in the KD term
    o.phase = "d2d";
    try {
        run_stage(o);
        FAIL() << "a NaN loss must stop the run";
    } catch (const ValueError& e) {
        EXPECT_NE(std::string(e.what()).find("step 1: loss term 'kd' is not finite"), std::string::npos) << e.what();
    }
    o.skip_nonfinite = true;
    EXPECT_TRUE(run_stage(o));
}

TEST_F(Stages, ResumeKeepsTheRunsSavedConfiguration) {
    TrainOptions first = options("teacher", "saved");
    first.stop_after = 2;
    EXPECT_FALSE(run_stage(first));
    // Only resume= on the command line: stage, steps, batch size, data ... come from the run folder.
    const std::string resume = "resume=" + dir_->str("saved");
    const char* argv[] = {"train_mod", resume.c_str()};
    TrainOptions again = *parse_train_options(2, argv);
    EXPECT_EQ(again.stage, "teacher");
    EXPECT_EQ(again.steps, 6);
    EXPECT_EQ(again.batch_size, 4);
    EXPECT_EQ(again.data, dir_->str("world"));
    EXPECT_EQ(again.out, dir_->str("saved"));
    EXPECT_EQ(again.stop_after, 0);
    EXPECT_TRUE(run_stage(again));
    // The command line still wins over the saved value.
    const char* argv2[] = {"train_mod", resume.c_str(), "steps=9"};
    EXPECT_EQ(parse_train_options(3, argv2)->steps, 9);
}

TEST_F(Stages, GradientAccumulationTakesSeveralBatchesPerStep) {
    TrainOptions o = options("teacher", "accum");
    o.steps = 2;
    o.grad_accum = 3;
    ASSERT_TRUE(run_stage(o));
    const std::string state = sft_state("accum");
    // 2 optimizer steps x 3 micro-batches x 4 samples, in the first epoch's order.
    EXPECT_NE(state.find("\"position\": 24"), std::string::npos) << state;
    EXPECT_NE(state.find("\"step\": 2"), std::string::npos) << state;
}

TEST_F(Stages, TeacherStepsOverrideStepsForTheTeacherOnly) {
    TrainOptions o = options("teacher", "teacher-steps");
    o.steps = 5;
    o.teacher_steps = 2;
    ASSERT_TRUE(run_stage(o));
    EXPECT_NE(sft_state("teacher-steps").find("\"step\": 2"), std::string::npos) << sft_state("teacher-steps");
}

// Each patch learns the cell under its centre: on 64-pixel images (cells of 21 pixels),
// 16-pixel patches at 0, 16, 32, 48 have centres in cells 0, 1, 1, 2 along each axis.
TEST(VisionPretraining, EachPatchPredictsTheCellUnderItsCentre) {
    models::VisionConfig v;
    v.image_size = 64;
    v.patch_size = 16;
    EXPECT_EQ(grid_cell_of_patches(v), (std::vector<int>{0, 1, 1, 2, 3, 4, 4, 5, 3, 4, 4, 5, 6, 7, 7, 8}));
    v.image_size = 48;  // one patch per cell
    EXPECT_EQ(grid_cell_of_patches(v), (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8}));
}

TEST_F(Stages, VisionPretrainingLearnsTheSceneTruthAndFeedsTheTeacher) {
    TrainOptions o = options("teacher", "vision");
    o.batch_size = 8;
    Generator gen(0);
    models::ClipVisionModel vision(o.family.vision, gen);
    const VisionPretrainReport r = pretrain_vision(vision, nullptr, o, 200);
    EXPECT_LT(r.last_loss, 0.7 * r.first_loss);
    // Where a patch is, its position embedding says (chance: 1 in 4 cells here; 13 test patches).
    EXPECT_GT(r.cell_accuracy, 0.5);
    for (double acc : {r.shape_accuracy, r.colour_accuracy, r.text_accuracy, r.cell_accuracy, r.empty_accuracy}) {
        EXPECT_GE(acc, 0.0);
        EXPECT_LE(acc, 1.0);
    }
    // With a projector, the read-out sits on its output and the projector learns too.
    models::Projector projector(o.family.vision.hidden_size, o.family.teacher.hidden_size, gen, 0.02);
    const std::vector<float> before = projector.fc0->weight.to_vector<float>();
    const VisionPretrainReport rp = pretrain_vision(vision, &projector, o, 20);
    EXPECT_LT(rp.last_loss, rp.first_loss);
    EXPECT_NE(projector.fc0->weight.to_vector<float>(), before);
    // A frozen, shared encoder (a student's projector): only the projector learns.
    const std::vector<float> encoder_before = vision.named_parameters().front().second.to_vector<float>();
    const std::vector<float> projector_before = projector.fc0->weight.to_vector<float>();
    pretrain_vision(vision, &projector, o, 5, false);
    EXPECT_EQ(vision.named_parameters().front().second.to_vector<float>(), encoder_before);
    EXPECT_NE(projector.fc0->weight.to_vector<float>(), projector_before);
    EXPECT_THROW(pretrain_vision(vision, nullptr, o, 1, false), ValueError);
    // stage=teacher runs it before the SFT when vision_steps > 0.
    o.vision_steps = 3;
    ASSERT_TRUE(run_stage(o));
    EXPECT_TRUE(std::filesystem::exists(dir_->str("vision/final/model.safetensors")));
    // A world without scene truth is a clear error naming the file.
    o.data = dir_->str("no-world");
    try {
        pretrain_vision(vision, nullptr, o, 1);
        FAIL();
    } catch (const data::DataError& e) {
        EXPECT_NE(std::string(e.what()).find("no-world/train/scenes.jsonl"), std::string::npos) << e.what();
    }
}

// vision_scenes=generated draws new scenes of the world's kind (its meta.json) every step: the
// read-out learns from them, the same seed gives the same encoder, and the images are not the
// training split's (the encoder differs from one pretrained on those).
TEST_F(Stages, VisionPretrainingOnGeneratedScenesLearnsAndRepeats) {
    TrainOptions o = options("teacher", "vision-generated");
    o.batch_size = 8;
    o.vision_scenes = "generated";
    o.vision_text_percent = 100;
    auto pretrained = [&](const TrainOptions& opts, int64_t steps, VisionPretrainReport* report) {
        Generator gen(0);
        models::ClipVisionModel vision(opts.family.vision, gen);
        const VisionPretrainReport r = pretrain_vision(vision, nullptr, opts, steps);
        if (report) *report = r;
        return vision.named_parameters().front().second.to_vector<float>();
    };
    VisionPretrainReport r;
    const std::vector<float> first = pretrained(o, 200, &r);
    EXPECT_LT(r.last_loss, 0.7 * r.first_loss);
    EXPECT_GT(r.cell_accuracy, 0.5);
    EXPECT_GE(r.texts_read, 0.0);
    EXPECT_LE(r.texts_read, r.text_accuracy);  // every slot right implies each slot right
    EXPECT_EQ(pretrained(o, 5, nullptr), pretrained(o, 5, nullptr));
    TrainOptions from_files = o;
    from_files.vision_scenes = "train";
    EXPECT_NE(pretrained(o, 5, nullptr), pretrained(from_files, 5, nullptr));
    // The world's settings come from its meta.json; without one, the error names it.
    const std::string bare = dir_->str("bare-world");
    std::filesystem::create_directories(bare + "/train");
    std::filesystem::copy_file(o.data + "/train/scenes.jsonl", bare + "/train/scenes.jsonl");
    o.data = bare;
    try {
        pretrained(o, 1, nullptr);
        FAIL();
    } catch (const data::DataError& e) {
        EXPECT_NE(std::string(e.what()).find("bare-world/meta.json"), std::string::npos) << e.what();
    }
    // A meta.json whose settings the renderer cannot draw is named too.
    std::ofstream(bare + "/meta.json") << R"({"config": {"max_objects": 3, "text_percent": 25, "image_size": 8}})";
    try {
        pretrained(o, 1, nullptr);
        FAIL();
    } catch (const data::DataError& e) {
        EXPECT_NE(std::string(e.what()).find("image_size 8"), std::string::npos) << e.what();
    }
    // Parsed as an option, with its choices checked.
    const std::string config = std::string("config=") + MOD_SOURCE_DIR + "/configs/tiny.json";
    const char* argv[] = {"train_mod", "stage=teacher", config.c_str(), "vision_scenes=generated", "vision_text_percent=100"};
    const TrainOptions parsed = *parse_train_options(5, argv);
    EXPECT_EQ(parsed.vision_scenes, "generated");
    EXPECT_EQ(parsed.vision_text_percent, 100);
    const char* bad[] = {"train_mod", "stage=teacher", config.c_str(), "vision_scenes=fresh"};
    EXPECT_THROW(parse_train_options(4, bad), data::ArgError);
}

// A stage on a folder without a world makes one with the world_* keys, and its tokenizer.
TEST_F(Stages, AMissingWorldIsMadeWithTheWorldKeys) {
    TrainOptions o = options("teacher", "fresh-run", {"world_images=8", "world_max_objects=2", "world_min_objects=2",
                                                   "world_text_percent=100", "world_task_weights=relation=2",
                                                   "world_image_after_question=true", "world_image_after_names=true",
                                                   "world_reasoned_relations=true",
                                                   "world_swapped_negatives=true", "world_compared_relations=true",
                                                   "world_vqa_per_image=3", "world_test_images=5"});
    o.data = dir_->str("fresh-world");
    o.tokenizer = o.data + "/tokenizer.json";
    o.teacher_steps = 1;
    ASSERT_TRUE(run_stage(o));
    const nlohmann::json meta = nlohmann::json::parse(read_text_file(o.data + "/meta.json"));
    EXPECT_EQ(meta["config"]["images"], 8);
    EXPECT_EQ(meta["config"]["max_objects"], 2);
    EXPECT_EQ(meta["config"]["min_objects"], 2);
    EXPECT_EQ(meta["config"]["text_percent"], 100);
    EXPECT_EQ(meta["config"]["task_weights"]["relation"], 2);
    EXPECT_EQ(meta["config"]["image_after_question"], true);
    EXPECT_EQ(meta["config"]["image_after_names"], true);
    EXPECT_EQ(meta["config"]["reasoned_relations"], true);
    EXPECT_EQ(meta["config"]["swapped_negatives"], true);
    EXPECT_EQ(meta["config"]["compared_relations"], true);
    EXPECT_EQ(meta["config"]["vqa_per_image"], 3);
    EXPECT_EQ(meta["counts"]["multitask"], 8 * 3);
    EXPECT_EQ(meta["config"]["test_images"], 5);
    EXPECT_EQ(meta["counts"]["chair"], 5);
    // The model keeps the world's prompt order, for chat_mod.
    EXPECT_TRUE(models::load_mllm_config(o.out + "/final/config.json").image_after_question);
    EXPECT_TRUE(models::load_mllm_config(o.out + "/final/config.json").image_after_names);
    EXPECT_TRUE(std::filesystem::exists(o.tokenizer));
    std::istringstream scenes(read_text_file(o.data + "/train/scenes.jsonl"));
    int lines = 0;
    for (std::string line; std::getline(scenes, line); ++lines)
        EXPECT_NE(line.find("\"shape\":\"text\""), std::string::npos) << line;
    EXPECT_EQ(lines, 8);
    // One more one-step teacher on that world; returns what train_mod said on stderr.
    auto run_on_the_world = [&](const std::string& out, const std::vector<std::string>& keys) {
        TrainOptions again = options("teacher", out, keys);
        again.data = o.data;
        again.tokenizer = o.tokenizer;
        again.teacher_steps = 1;
        testing::internal::CaptureStderr();
        const bool ran = run_stage(again);
        const std::string said = testing::internal::GetCapturedStderr();
        EXPECT_TRUE(ran) << said;
        return said;
    };
    // An existing world is used as it was made, and a world_ key that asks otherwise is named.
    const std::string said = run_on_the_world("fresh-run-2", {"world_images=9", "world_max_objects=2",
                                                              "world_min_objects=2", "world_text_percent=100"});
    EXPECT_NE(said.find("images 8 (asked 9)"), std::string::npos) << said;
    EXPECT_NE(said.find("image_after_question true (asked false)"), std::string::npos) << said;
    EXPECT_NE(said.find("image_after_names true (asked false)"), std::string::npos) << said;
    EXPECT_NE(said.find("reasoned_relations true (asked false)"), std::string::npos) << said;
    EXPECT_NE(said.find("swapped_negatives true (asked false)"), std::string::npos) << said;
    EXPECT_NE(said.find("compared_relations true (asked false)"), std::string::npos) << said;
    EXPECT_NE(said.find("vqa_per_image 3 (asked 2)"), std::string::npos) << said;
    EXPECT_NE(said.find("test_images 5 (asked 200)"), std::string::npos) << said;
    EXPECT_EQ(said.find("max_objects"), std::string::npos) << said;
    EXPECT_TRUE(models::load_mllm_config(dir_->str("fresh-run-2/final/config.json")).image_after_question);
    // A world made before the key put the image first.
    nlohmann::json before = meta;
    before["config"].erase("image_after_question");
    std::ofstream(o.data + "/meta.json") << before.dump();
    const std::string said_old = run_on_the_world("fresh-run-3", {"world_images=8", "world_image_after_question=true",
                                                                  "world_max_objects=2", "world_min_objects=2",
                                                                  "world_text_percent=100"});
    EXPECT_NE(said_old.find("image_after_question false (asked true)"), std::string::npos) << said_old;
    EXPECT_FALSE(models::load_mllm_config(dir_->str("fresh-run-3/final/config.json")).image_after_question);
    EXPECT_THROW(options("teacher", "x", {"world_text_percent=101"}), data::ArgError);
    EXPECT_THROW(options("teacher", "x", {"world_vqa_per_image=-1"}), data::ArgError);
    EXPECT_THROW(options("teacher", "x", {"world_test_images=0"}), data::ArgError);
    EXPECT_THROW(options("teacher", "x", {"world_max_objects=2", "world_min_objects=3"}), data::ArgError);
    try {
        options("teacher", "x", {"world_task_weights=relaton=2"});
        ADD_FAILURE() << "an unknown task type was accepted";
    } catch (const data::ArgError& e) {
        EXPECT_NE(std::string(e.what()).find("world_task_weights \"relaton=2\": unknown task type"), std::string::npos) << e.what();
    }
}

TEST(Workspace, ModelConfigTakesThePromptOrderOfTheWorld) {
    test::TempDir dir;
    const text::Tokenizer tok = test::bytes_tokenizer();
    const models::MllmConfig family =
        models::load_family_config(std::string(MOD_SOURCE_DIR) + "/configs/tiny.json").student_mllm(false);
    EXPECT_FALSE(for_data(family, tok, dir.str()).image_after_question);  // no meta.json: data make_world did not write
    EXPECT_EQ(for_data(family, tok, dir.str()).image_token_id, 257);
    auto meta = [&](const std::string& config) {
        std::ofstream(dir.str("meta.json")) << R"({"format": "llava-mod world 1", "config": )" << config << "}";
    };
    meta(R"({"images": 4})");  // a world made before the key: the image first
    EXPECT_FALSE(for_data(family, tok, dir.str()).image_after_question);
    meta(R"({"image_after_question": true})");
    EXPECT_TRUE(for_data(family, tok, dir.str()).image_after_question);
    EXPECT_FALSE(for_data(family, tok, dir.str()).image_after_names);
    meta(R"({"image_after_names": true})");
    EXPECT_TRUE(for_data(family, tok, dir.str()).image_after_names);
    for (const char* bad : {R"({"image_after_question": "yes"})", R"({"image_after_names": 1})", "[1]", R"({"images": )"}) {
        meta(bad);
        try {
            for_data(family, tok, dir.str());
            ADD_FAILURE() << bad << " was accepted";
        } catch (const data::JsonError& e) {
            EXPECT_NE(std::string(e.what()).find(dir.str("meta.json")), std::string::npos) << e.what();
        }
    }
}

TEST_F(Stages, BadOptionsAreClearErrors) {
    const char* argv[] = {"train_mod", "stage=imitaton"};
    EXPECT_THROW(parse_train_options(2, argv), data::ArgError);
    const char* argv2[] = {"train_mod", "stage=teacher", "stepz=3"};
    try {
        parse_train_options(3, argv2);
        FAIL();
    } catch (const data::ArgError& e) {
        EXPECT_NE(std::string(e.what()).find("did you mean \"steps\""), std::string::npos) << e.what();
    }
    const std::string config = "config=" + std::string(MOD_SOURCE_DIR) + "/configs/tiny.json";
    const char* argv3[] = {"train_mod", "stage=sft", config.c_str(), "student_intermediate_size=wide"};
    try {
        parse_train_options(4, argv3);
        FAIL();
    } catch (const data::ArgError& e) {
        EXPECT_NE(std::string(e.what()).find("student_intermediate_size=wide: a width (integer) or moe"),
                  std::string::npos)
            << e.what();
    }
    TrainOptions o = options("preference", "nope");
    o.student = dir_->str("missing");
    EXPECT_THROW(run_stage(o), IOError);
}

// A run saved before a key existed resumes with that key's built-in default (the behaviour it
// was made with), not the config file's value; a new run takes the config file's.
TEST(Options, AResumedRunKeepsTheBuiltInDefaultOfAKeyItsSavedConfigLacks) {
    test::TempDir dir;
    nlohmann::json config = nlohmann::json::parse(read_text_file(std::string(MOD_SOURCE_DIR) + "/configs/tiny.json"));
    config["train"] = {{"group_by_length", 32}, {"lr", 0.5}};
    write_file_atomic(dir.str("config.json"), config.dump());
    std::filesystem::create_directories(dir.str("run"));
    write_file_atomic(dir.str("run/train_config.json"),
                      nlohmann::json{{"config", dir.str("config.json")}, {"stage", "teacher"}, {"lr", "0.25"}}.dump());
    const std::string config_arg = "config=" + dir.str("config.json"), resume_arg = "resume=" + dir.str("run");
    const char* fresh[] = {"train_mod", "stage=teacher", config_arg.c_str()};
    const TrainOptions a = *parse_train_options(3, fresh);
    EXPECT_EQ(a.group_by_length, 32);
    EXPECT_EQ(a.lr, 0.5);
    const char* resumed[] = {"train_mod", resume_arg.c_str()};
    const TrainOptions b = *parse_train_options(2, resumed);
    EXPECT_EQ(b.group_by_length, 0);
    EXPECT_EQ(b.lr, 0.25);
}

TEST(Options, StudentIntermediateSizeMoeMatchesTheSparseStudentsActivatedWidth) {
    const std::string config = std::string(MOD_SOURCE_DIR) + "/configs/quickstart.json";
    const std::string arg = "config=" + config;
    const char* argv[] = {"train_mod", "stage=imitation", arg.c_str(), "student_intermediate_size=moe"};
    EXPECT_EQ(parse_train_options(4, argv)->family.student.intermediate_size, 288);
    const char* argv2[] = {"train_mod", "stage=imitation", arg.c_str(), "student_intermediate_size=100"};
    EXPECT_EQ(parse_train_options(4, argv2)->family.student.intermediate_size, 100);
}

}  // namespace
}  // namespace mod::train
