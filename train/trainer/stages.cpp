#include "trainer/stages.h"

#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>

#include "autograd/grad_mode.h"
#include "core/elementwise.h"
#include "trainer/batch_tensors.h"
#include "trainer/vision_pretrain.h"
#include "trainer/checkpoint.h"
#include "trainer/eval.h"
#include "trainer/losses.h"
#include "trainer/reference_log_probs.h"
#include "trainer/training_loop.h"
#include "trainer/workspace.h"

namespace mod::train {

namespace fs = std::filesystem;

namespace {

std::string join(const std::string& dir, const std::string& name) { return (fs::path(dir) / name).string(); }

// What every stage prepares: the world, the tokenizer, the resume flag.
struct Setup {
    text::Tokenizer tok;
    bool resume;
};

Setup prepare(const TrainOptions& o) {
    data::WorldConfig world;
    world.out = o.data;
    world.seed = o.seed;
    world.images = o.world_images;
    world.max_objects = static_cast<int>(o.world_max_objects);
    world.min_objects = static_cast<int>(o.world_min_objects);
    world.text_percent = static_cast<int>(o.world_text_percent);
    world.vqa_per_image = static_cast<int>(o.world_vqa_per_image);
    world.test_images = o.world_test_images;
    world.task_weights = o.world_task_weights;
    world.image_after_question = o.world_image_after_question;
    world.image_after_names = o.world_image_after_names;
    world.style.reasoned_relations = o.world_reasoned_relations;
    world.style.compared_relations = o.world_compared_relations;
    world.style.swapped_negatives = o.world_swapped_negatives;
    ensure_world(world);
    text::Tokenizer tok = ensure_tokenizer(o.tokenizer, o.data, std::min(o.family.student.vocab_size, o.family.teacher.vocab_size));
    fs::create_directories(o.out);
    write_file_atomic(join(o.out, "train_config.json"), o.resolved_json());
    return {std::move(tok), !o.resume.empty()};
}

LoaderSpec loader_spec(const TrainOptions& o, std::vector<std::string> files, bool preference) {
    LoaderSpec s;
    for (std::string& f : files) f = join(join(o.data, "train"), f);
    s.files = std::move(files);
    s.preference = preference;
    s.batch_size = o.batch_size;
    s.seed = o.seed;
    s.max_len = o.max_len;
    s.skip_bad = o.skip_bad;
    s.group_by_length = o.group_by_length;
    return s;
}

void freeze_all(models::LlavaModel& m) { m.set_requires_grad("*", false); }

// Moves a model to device= and sets precision= (before its optimizer is made).
void place(models::LlavaModel& m, const TrainOptions& o) {
    m.to(o.device);
    m.set_compute_dtype(o.precision == "bf16" ? DType::BF16 : DType::F32);
}

// METHOD.md §2's trainable sets.
void train_lm_and_projector(models::LlavaModel& m) {
    freeze_all(m);
    for (const char* p : {"model.embed_tokens.*", "model.layers.*", "model.norm.*", "lm_head.*", "model.mm_projector.*"})
        m.set_requires_grad(p, true);
}
void train_mlps_and_projector(models::LlavaModel& m) {
    freeze_all(m);
    m.set_requires_grad("model.layers.*.mlp.*", true);
    m.set_requires_grad("model.mm_projector.*", true);
}

// The teacher's logits at rows (N, V), under no-grad.
Tensor teacher_logits(const models::LlavaModel& teacher, const ModelInputs& in, const Tensor& rows) {
    NoGradGuard no_grad;
    return teacher.forward(in.input_ids, in.pixels, Tensor(), nullptr, nullptr, rows).logits;
}

// MoE terms of a student forward: aux_coef * aux + zloss_coef * z, and their display values.
Tensor moe_terms(const models::MllmOutput& out, const models::MoeConfig& moe, Terms& terms) {
    if (!out.moe.aux.defined()) return Tensor();
    terms.emplace_back("aux", out.moe.aux.item());
    Tensor total = out.moe.aux * moe.aux_coef;
    if (moe.zloss_coef > 0) {
        terms.emplace_back("z", out.moe.z.item());
        total = total + out.moe.z * moe.zloss_coef;
    }
    return total;
}

Tensor plus(const Tensor& a, const Tensor& b) { return b.defined() ? a + b : a; }

std::shared_ptr<models::LlavaModel> load_frozen_teacher(const TrainOptions& o) {
    std::string dir;
    try {
        dir = resolve_model_dir(o.teacher);
    } catch (const IOError&) {
        std::fprintf(stderr,
                     "train_mod: no teacher at %s; training one now with stage=teacher out=%s "
                     "(or pass teacher=<model folder>)\n",
                     o.teacher.c_str(), o.teacher.c_str());
        TrainOptions t = o;
        t.stage = "teacher";
        t.out = o.teacher;
        t.resume = o.resume.empty() ? "" : o.teacher;  // a resumed run resumes its unfinished teacher too
        if (!run_stage(t)) throw ValueError(detail::format_error("train_mod", "teacher training was interrupted"));
        dir = resolve_model_dir(o.teacher);
    }
    auto teacher = load_model(dir).model;
    place(*teacher, o);
    teacher->eval();
    freeze_all(*teacher);
    return teacher;
}

// A student's config: the config file's student for this data, with its teacher's system line, as
// distillation compares the two position by position on one text. A different line given on the
// command line is an error; one from the config file or the default gives way, with a note.
models::MllmConfig student_config(const TrainOptions& o, const text::Tokenizer& tok, const models::LlavaModel& teacher) {
    models::MllmConfig config = for_data(o.family.student_mllm(false), tok, o.data);
    config.system_prompt = teacher.config.system_prompt;
    const std::string teachers = chat_template(teacher.config).system;
    if (o.system_prompt != teachers) {
        MOD_CHECK(!o.system_prompt_given, ValueError, "train_mod", "system_prompt=\"", o.system_prompt,
                  "\": the teacher in ", o.teacher, " was trained with \"", teachers,
                  "\", and its students take its system line (distillation compares them on the same text)");
        std::fprintf(stderr, "train_mod: the student takes its teacher's system line \"%s\"\n", teachers.c_str());
    }
    return config;
}

void save_final(const TrainOptions& o, const models::LlavaModel& model, const text::Tokenizer& tok) {
    save_model(join(o.out, "final"), model, tok);
    const models::ParameterCounts c = model.parameter_counts();
    std::fprintf(stderr, "train_mod: %s done: model in %s (%lld parameters, %lld activated)\n", o.stage.c_str(),
                 join(o.out, "final").c_str(), static_cast<long long>(c.total), static_cast<long long>(c.activated));
}

// Supervised fine-tuning: cross-entropy on the response tokens (teacher SFT, align).
std::function<StepResult(const data::Batch&)> sft_step(const models::LlavaModel& model) {
    return [&model](const data::Batch& b) {
        ModelInputs in = to_model_inputs(b, model.device());
        const LabelPositions pos = shifted_positions(in.labels);
        const Tensor logits = model.forward(in.input_ids, in.pixels, Tensor(), nullptr, nullptr, pos.rows).logits;
        Tensor ce = response_cross_entropy(logits, pos);
        return StepResult{ce, {{"ce", ce.item()}}, in.tokens};
    };
}

void read_first_parts(Job& job, const TrainOptions& o, const std::vector<FirstPart>& parts) {
    int64_t end = 0;
    for (const FirstPart& p : parts) {
        Job::Part part{loader_spec(o, {"multitask.json"}, false), end += p.steps};
        part.data.tasks = p.tasks;
        job.curriculum.push_back(std::move(part));
    }
}

bool run_teacher(const TrainOptions& o) {
    Setup s = prepare(o);
    Generator gen(o.seed);
    models::MllmConfig config = for_data(o.family.teacher_mllm(), s.tok, o.data);
    config.system_prompt = o.system_prompt;
    models::LlavaModel teacher(config, gen);
    place(teacher, o);
    // A resumed SFT has the pretrained encoder and projector in its checkpoint already. Both
    // stay frozen through the SFT, as LLaVA keeps its CLIP encoder: trained on through the
    // language model, the encoder's features collapse onto one vector that every image shares,
    // and the projector keeps what the language model reads first (shape) and lets the rest
    // fade (colour: 15-25% of colour questions right with the projector trained on, 61-69%
    // frozen, with patches aligned to the grid).
    if (o.vision_steps > 0) {
        if (!fs::exists(checkpoint_dir(join(o.out, "sft"))))
            pretrain_vision(*teacher.model->vision_tower->vision_tower, teacher.model->mm_projector.get(), o,
                            o.vision_steps);
        teacher.set_requires_grad("model.vision_tower.*", false);
        teacher.set_requires_grad("model.mm_projector.*", false);
    }
    Job job{"teacher", join(o.out, "sft"), &teacher, &s.tok, loader_spec(o, {"general.json", "multitask.json"}, false),
            o.teacher_sft_steps(), nullptr, nullptr};
    job.step = sft_step(teacher);
    // Parts on some task types alone start the SFT (teacher_first_tasks): docs/RESULTS.md says
    // why the existence and the text questions need them.
    read_first_parts(job, o, o.teacher_first);
    if (!run_job(job, o, s.resume)) return false;
    save_final(o, teacher, s.tok);
    return true;
}

bool run_align(const TrainOptions& o) {
    Setup s = prepare(o);
    auto teacher = load_frozen_teacher(o);
    Generator gen(o.seed);
    models::LlavaModel student(student_config(o, s.tok, *teacher), gen,
                               teacher->model->vision_tower->vision_tower);
    place(student, o);
    freeze_all(student);
    student.set_requires_grad("model.mm_projector.*", true);
    Job job{"align", join(o.out, "projector"), &student, &s.tok, loader_spec(o, {"general.json"}, false), o.steps,
            nullptr, nullptr};
    job.step = sft_step(student);
    if (!run_job(job, o, s.resume)) return false;
    save_final(o, student, s.tok);
    return true;
}

// The student's two phases (METHOD.md §2). stage=imitation distils: KD on general data with
// the LM and projector trainable, then (upcycled unless upcycle=false) KD + CE + aux on
// multi-task data with the MLPs, routers and projector trainable. stage=sft is its baseline:
// the same phases, data, steps and trainable sets with cross-entropy in place of KD; the
// teacher only lends its frozen vision encoder, which every student shares.
bool run_student(const TrainOptions& o, bool distill) {
    Setup s = prepare(o);
    auto teacher = load_frozen_teacher(o);
    Generator gen(o.seed), router_gen(o.seed ^ 0x9e3779b97f4a7c15ULL);
    models::LlavaModel student(student_config(o, s.tok, *teacher), gen,
                               teacher->model->vision_tower->vision_tower);
    place(student, o);
    const models::MoeConfig moe = student.config.moe;
    // KD reads the CE rows (kd_mask=shifted), or with kd_mask=unshifted the labelled positions.
    const bool kd_at_ce_rows = o.kd_mask == "shifted";
    const std::string first_dir = join(o.out, distill ? "d2d" : "general");
    const std::string second_dir = join(o.out, distill ? "d2s" : "multitask");

    if (o.phase != "d2s") {
        // The student's projector starts from the scene-truth read-out on the shared encoder, as
        // the teacher's does: from random weights, the first phase kept what the language model
        // read first and lost colour (26% of colour questions against the teacher's 74%).
        if (o.vision_steps > 0 && !fs::exists(checkpoint_dir(first_dir)))
            pretrain_vision(*teacher->model->vision_tower->vision_tower, student.model->mm_projector.get(), o,
                            o.vision_steps, false);
        train_lm_and_projector(student);
        Job first{o.stage + (distill ? " d2d" : " general"), first_dir, &student, &s.tok,
                  loader_spec(o, {"general.json"}, false), o.steps, nullptr, nullptr};
        // Parts on some task types alone (student_first_tasks), as the teacher's: this is the
        // last phase in which the student's attention trains (docs/RESULTS.md).
        read_first_parts(first, o, o.student_first);
        first.step = [&](const data::Batch& b) {
            ModelInputs in = to_model_inputs(b, o.device);
            const LabelPositions pos =
                distill && !kd_at_ce_rows ? unshifted_positions(in.labels) : shifted_positions(in.labels);
            const Tensor t = distill ? teacher_logits(*teacher, in, pos.rows) : Tensor();
            const Tensor logits = student.forward(in.input_ids, in.pixels, Tensor(), nullptr, nullptr, pos.rows).logits;
            if (!distill) {
                Tensor ce = response_cross_entropy(logits, pos);
                return StepResult{ce, {{"ce", ce.item()}}, in.tokens};
            }
            Tensor kd = distillation_loss(logits, t, pos, o.tau);
            return StepResult{kd, {{"kd", kd.item()}}, in.tokens};
        };
        if (!run_job(first, o, s.resume)) return false;
        if (o.phase == "d2d") {
            save_final(o, student, s.tok);
            return true;
        }
    } else {
        // d2s alone starts from a finished first phase of this run folder.
        MOD_CHECK(job_finished(first_dir), ValueError, "train_mod", "phase=d2s needs a finished first phase in ",
                  first_dir, "; run phase=d2d (or phase=both) first");
        load_weights(checkpoint_dir(first_dir), student);
    }

    if (o.upcycle) student.upcycle(gen);
    train_mlps_and_projector(student);
    Job second{o.stage + (distill ? " d2s" : " multitask"), second_dir, &student, &s.tok,
               loader_spec(o, o.second_phase_data, false), o.steps, nullptr, &router_gen};
    second.step = [&](const data::Batch& b) {
        ModelInputs in = to_model_inputs(b, o.device);
        const LabelPositions ce_pos = shifted_positions(in.labels);
        const bool other_kd_rows = distill && !kd_at_ce_rows;
        const LabelPositions kd_pos = other_kd_rows ? unshifted_positions(in.labels) : ce_pos;
        const Tensor t = distill ? teacher_logits(*teacher, in, kd_pos.rows) : Tensor();
        // The head runs at the loss rows only, unless KD and CE read different ones.
        const Tensor rows = other_kd_rows ? Tensor() : ce_pos.rows;
        models::MllmOutput out = student.forward(in.input_ids, in.pixels, Tensor(), nullptr, &router_gen, rows);
        Tensor ce = response_cross_entropy(out.logits, ce_pos);
        Terms terms{{"ce", ce.item()}};
        Tensor loss = ce;
        if (distill) {
            Tensor kd = distillation_loss(out.logits, t, kd_pos, o.tau);
            terms.insert(terms.begin(), {"kd", kd.item()});
            loss = kd + ce;
        }
        loss = plus(loss, moe_terms(out, moe, terms));
        terms.insert(terms.begin(), {"loss", loss.item()});
        return StepResult{loss, terms, in.tokens};
    };
    if (!run_job(second, o, s.resume)) return false;
    save_final(o, student, s.tok);
    return true;
}

bool run_preference(const TrainOptions& o) {
    Setup s = prepare(o);
    auto teacher = load_frozen_teacher(o);
    auto student = load_model(resolve_model_dir(o.student)).model;
    place(*student, o);
    MOD_CHECK(student->config.sparse, ValueError, "train_mod", "preference distillation trains the sparse student; ",
              o.student, " holds a dense model (run stage=imitation with phase=both and upcycle=true first)");
    MOD_CHECK(chat_template(student->config).system == chat_template(teacher->config).system, ValueError, "train_mod",
              "the student in ", o.student, " and the teacher in ", o.teacher,
              " were trained with different system lines (their config.json's system_prompt); the teacher as "
              "reference must read the pairs as the student does");
    Generator router_gen(o.seed ^ 0x9e3779b97f4a7c15ULL);
    train_mlps_and_projector(*student);
    const models::MoeConfig moe = student->config.moe;
    Job job{"preference " + o.loss, join(o.out, o.loss), student.get(), &s.tok,
            loader_spec(o, {"preference.json"}, true), o.preference_run_steps(), nullptr, &router_gen};
    // The reference's log-probs once per pair up front, when the run visits every pair at least
    // once; with fewer visits the pass would cost more than it saves.
    LoaderSpec pass_spec = job.data;
    pass_spec.one_pass = true;
    std::unique_ptr<data::Loader> pass = make_loader(pass_spec, s.tok, student->config);
    std::optional<ReferenceLogProbs> reference;
    if (job.steps * o.grad_accum * o.batch_size >= pass->size()) {
        reference = ReferenceLogProbs::compute(*teacher, *pass, o.device);
        if (reference) {
            std::fprintf(stderr, "train_mod: reference log-probs of %lld pairs computed once\n",
                         static_cast<long long>(reference->size()));
        } else {
            std::fprintf(stderr, "train_mod: preference pairs share an id; the reference runs at every step\n");
        }
    }
    pass.reset();
    job.step = [&](const data::Batch& b) {
        ModelInputs in = to_model_inputs(b, o.device);
        LabelPositions pos = shifted_positions(in.labels);
        Tensor ref = reference ? reference->of(b) : reference_log_probs(*teacher, in, pos);
        models::MllmOutput out = student->forward(in.input_ids, in.pixels, Tensor(), nullptr, &router_gen, pos.rows);
        PreferenceLoss p = preference_loss(o.loss, sequence_log_probs(out.logits, pos, b.B), ref, o.beta);
        Terms terms{{o.loss, p.loss.item()}};
        Tensor loss = plus(p.loss, moe_terms(out, moe, terms));
        terms.insert(terms.end(), {{"reward_chosen", p.reward_chosen}, {"reward_rejected", p.reward_rejected},
                                   {"margin", p.margin}, {"pair_acc", p.accuracy}});
        return StepResult{loss, terms, in.tokens};
    };
    if (!run_job(job, o, s.resume)) return false;
    save_final(o, *student, s.tok);
    return true;
}

}  // namespace

std::string resolve_model_dir(const std::string& path) {
    if (is_model_dir(path)) return path;
    if (is_model_dir(join(path, "final"))) return join(path, "final");
    throw IOError(detail::format_error("train_mod", path,
                                       ": a model folder (model.safetensors + config.json) or a finished run "
                                       "folder (with final/) expected"));
}

bool run_stage(const TrainOptions& o) {
    if (o.stage == "teacher") return run_teacher(o);
    if (o.stage == "align") return run_align(o);
    if (o.stage == "imitation") return run_student(o, true);
    if (o.stage == "sft") return run_student(o, false);
    if (o.stage == "preference") return run_preference(o);
    // all: each stage in its own folder under out/; the settings beside them, for resume=.
    fs::create_directories(o.out);
    write_file_atomic(join(o.out, "train_config.json"), o.resolved_json());
    TrainOptions t = o;
    for (const char* stage : {"teacher", "imitation", "preference"}) {
        t.stage = stage;
        t.out = join(o.out, stage);
        t.run_root = o.run_root;
        t.teacher = join(o.out, "teacher");
        t.student = join(o.out, "imitation");
        t.resume = o.resume.empty() ? "" : t.out;
        t.lr = std::string(stage) == "preference" ? o.lr / 10 : o.lr;
        if (std::string(stage) == "teacher" && is_model_dir(join(t.out, "final"))) continue;
        if (!run_stage(t)) return false;
    }
    // The eval table: teacher and the student after each stage, side by side.
    EvalOptions eval;
    eval.limit = o.eval_limit;
    eval.on_progress = [](const std::string& set, int64_t done, int64_t total) {
        if (done == total) std::fprintf(stderr, "eval_mod: %s %lld/%lld\n", set.c_str(), static_cast<long long>(done),
                                        static_cast<long long>(total));
    };
    std::vector<EvalResult> results;
    nlohmann::ordered_json report = nlohmann::ordered_json::array();
    for (const char* stage : {"teacher", "imitation", "preference"}) {
        LoadedModel m = load_model(resolve_model_dir(join(o.out, stage)));
        place(*m.model, o);
        results.push_back(evaluate(*m.model, m.tokenizer, o.data, eval, stage));
        report.push_back(results.back().to_json());
    }
    write_file_atomic(join(o.out, "eval.json"), report.dump(2) + "\n");
    std::fputs(format_table(results).c_str(), stdout);
    std::fprintf(stderr, "train_mod: all stages done; eval table in %s\n", join(o.out, "eval.json").c_str());
    return true;
}

}  // namespace mod::train
