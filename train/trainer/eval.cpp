// The metrics of METHOD.md §4, and the loop that generates the answers they score. Each test set is
// read as a whole (held-out sets are small), cut to `limit`, and answered one sample at a time with
// the KV cache; consecutive samples on the same image reuse its pixel tensor.
#include "trainer/eval.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>

#include "data/errors.h"
#include "data/json_read.h"
#include "data/scene_file.h"
#include "data/tasks.h"
#include "trainer/generate.h"

namespace mod::train {

namespace fs = std::filesystem;

namespace {

double ratio(int64_t num, int64_t den) { return den > 0 ? static_cast<double>(num) / den : 0.0; }

// One held-out sample: the turns up to the question, the expected answer, and whatever label the set
// carries (the task type for VQA, the shapes in the image for CHAIR).
struct TestSample {
    std::string image;  // resolved path
    std::vector<data::Message> prompt;
    std::string answer;
    std::string task;
    std::set<data::Shape> shapes;
};

data::Message message_from_json(const nlohmann::json& j) {
    const std::string from = j.at("from").get<std::string>();
    if (from != "human" && from != "gpt") throw data::JsonError("unknown role \"" + from + "\"");
    return {from == "human" ? data::Role::human : data::Role::gpt, j.at("value").get<std::string>()};
}

// Reads the first `limit` samples (0 = all) of a test file: conversations ending with the expected
// answer (vqa, pope), or {"prompt", "objects"} (chair).
std::vector<TestSample> read_test_set(const std::string& path, bool chair, int64_t limit) {
    if (!fs::exists(path)) {
        throw data::DataError("[evaluate] " + path + ": no such file (is this a world made by make_world?)");
    }
    const fs::path root = fs::path(path).parent_path();
    std::vector<TestSample> out;
    data::stream_json_array(path, "evaluate", [&](nlohmann::json& j, size_t) {
        if (limit > 0 && static_cast<int64_t>(out.size()) >= limit) return;
        TestSample s;
        try {
            s.image = (root / j.at("image").get<std::string>()).string();
            if (chair) {
                s.prompt.push_back({data::Role::human, j.at("prompt").get<std::string>()});
                for (const auto& name : j.at("objects")) {
                    data::Shape shape;
                    if (!data::parse_shape(name.get<std::string>(), shape)) {
                        throw data::JsonError("unknown shape \"" + name.get<std::string>() + "\" in \"objects\"");
                    }
                    s.shapes.insert(shape);
                }
            } else {
                for (const auto& m : j.at("conversations")) s.prompt.push_back(message_from_json(m));
                if (s.prompt.empty() || s.prompt.back().role != data::Role::gpt) {
                    throw data::JsonError("the conversation must end with the expected gpt answer");
                }
                s.answer = s.prompt.back().value;
                s.prompt.pop_back();
                if (s.prompt.empty()) throw data::JsonError("the conversation has no question before its answer");
                if (j.contains("task")) s.task = j.at("task").get<std::string>();
            }
        } catch (const nlohmann::json::exception& e) {
            throw data::JsonError(e.what());  // stream_json_array prefixes the file, line and column
        }
        out.push_back(std::move(s));
    });
    return out;
}

// Generates greedy answers for a set, one sample at a time, accumulating decode timing in `result`.
class Answerer {
public:
    Answerer(const models::LlavaModel& model, const text::Tokenizer& tok, EvalResult& result)
        : model_(model), tok_(tok), result_(result), options_(default_options(model, tok)) {}

    std::string answer(const TestSample& s, int64_t max_new_tokens) {
        if (s.image != image_path_) {
            pixels_ = load_image_tensor(s.image, model_.config.vision);
            image_path_ = s.image;
        }
        options_.max_new_tokens = max_new_tokens;
        const GenerateResult r = generate(model_, prompt_ids(model_, s.prompt, tok_), pixels_, options_);
        result_.decode_tokens += r.decode_steps;
        result_.decode_seconds += r.decode_seconds;
        return decode_ids(tok_, r.answer_ids());
    }

private:
    const models::LlavaModel& model_;
    const text::Tokenizer& tok_;
    EvalResult& result_;
    GenerateOptions options_;
    std::string image_path_;
    Tensor pixels_;
};

// Metric values as table cells.
std::string percent(double rate) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", 100.0 * rate);
    return buf;
}

std::string fixed1(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return buf;
}

// The test scenes by image path, when the world has them (a foreign data folder may not).
std::map<std::string, data::Scene> read_test_scenes(const fs::path& test) {
    std::map<std::string, data::Scene> scenes;
    if (!fs::exists(test / "scenes.jsonl")) return scenes;
    for (data::SceneFile& f : data::read_scene_file(test.string(), "evaluate")) scenes[f.image_path] = std::move(f.scene);
    return scenes;
}

// Counts a colour or position question about a scene with two or more shapes in its LookupMetrics,
// and each stated line of a reasoned relation answer (two lookups by name a question): `steps`
// are the lines the expected answer states, empty for a short one.
void add_lookup(std::map<std::string, LookupMetrics>& lookup, const std::map<std::string, data::Scene>& scenes,
                const TestSample& s, const std::vector<std::string>& steps, const std::string& answer) {
    if (s.task != "color" && s.task != "position" && steps.empty()) return;
    const auto it = scenes.find(s.image);
    if (it == scenes.end()) return;
    const std::vector<const data::Object*> shapes = data::shape_objects(it->second);
    if (shapes.size() < 2) return;
    std::vector<std::string> attributes;
    for (const data::Object* o : shapes) attributes.push_back(looked_up(*o, s.task, s.prompt.back().value));
    if (steps.empty()) {
        lookup[s.task].add(normalize_answer(answer), normalize_answer(s.answer), attributes);
        return;
    }
    const std::vector<std::string> stated = stated_lines(answer);
    for (size_t i = 0; i < steps.size(); ++i) {
        lookup[s.task].add(i < stated.size() ? stated[i] : std::string(), steps[i], attributes);
    }
}

}  // namespace

std::string count_si(int64_t n) {
    char buf[32];
    if (n >= 1000000) {
        std::snprintf(buf, sizeof buf, "%.2fM", n / 1e6);
    } else if (n >= 1000) {
        std::snprintf(buf, sizeof buf, "%.1fK", n / 1e3);
    } else {
        std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(n));
    }
    return buf;
}

std::string normalize_answer(const std::string& answer) {
    size_t begin = 0, end = answer.size();
    while (begin < end && std::isspace(static_cast<unsigned char>(answer[begin]))) ++begin;
    while (end > begin && std::isspace(static_cast<unsigned char>(answer[end - 1]))) --end;
    std::string out = answer.substr(begin, end - begin);
    if (!out.empty() && out.back() == '.') out.pop_back();
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bool answer_is_yes(const std::string& answer) { return normalize_answer(answer).rfind("yes", 0) == 0; }

std::string answer_conclusion(const std::string& answer) {
    const std::string normal = normalize_answer(answer);
    const std::string mark = data::kConclusionMark;
    const size_t at = normal.rfind(mark);
    return at == std::string::npos ? normal : normal.substr(at + mark.size());
}

std::string looked_up(const data::Object& o, const std::string& task, const std::string& question) {
    if (task == "color") return data::colour_name(o.colour);
    if (task == "position") return data::position_name(o.row, o.col);
    const std::string* relation = data::asked_relation(question);
    return relation != nullptr ? data::compared_line(o, *relation) : data::line_name(false, o.row);
}

std::vector<std::string> stated_lines(const std::string& answer) {
    const std::string normal = normalize_answer(answer);
    const std::string lead = data::kStatedLineMark;
    std::vector<std::string> out;
    for (size_t at = normal.find(lead); at != std::string::npos; at = normal.find(lead, at)) {
        at += lead.size();
        const size_t end = std::min(normal.find(" and ", at), normal.find(',', at));
        out.push_back(normal.substr(at, end == std::string::npos ? std::string::npos : end - at));
    }
    return out;
}

std::optional<bool> conclusion_follows_steps(const std::string& question, const std::string& answer) {
    const std::string* asked = data::asked_relation(question);
    const std::vector<std::string> stated = stated_lines(answer);
    const std::string conclusion = answer_conclusion(answer);
    bool column_a = false, column_b = false;
    int a = 0, b = 0;
    if (asked == nullptr || stated.size() != 2 || (conclusion != "yes" && conclusion != "no") ||
        !data::parse_line(stated[0], column_a, a) || !data::parse_line(stated[1], column_b, b))
        return std::nullopt;
    const bool columns = data::relation_compares_columns(*asked);
    if (column_a != columns || column_b != columns) return std::nullopt;  // lines the relation does not compare
    const bool holds = columns ? data::relation_holds(*asked, 0, a, 0, b) : data::relation_holds(*asked, a, 0, b, 0);
    return holds == (conclusion == "yes");
}

std::optional<std::string> stated_comparison(const std::string& answer) {
    const std::string normal = normalize_answer(answer);
    const std::string mark = data::kConclusionMark;
    const size_t last = normal.rfind(mark);
    if (last == std::string::npos || last == 0) return std::nullopt;
    const size_t before = normal.rfind(mark, last - 1);
    if (before == std::string::npos) return std::nullopt;
    const std::string step = normal.substr(before + mark.size(), last - before - mark.size());
    for (bool columns : {true, false}) {
        for (int a = 0; a < 2; ++a) {  // (0, 1), (1, 0) and (0, 0) give every phrase of the axis
            for (int b = 0; b < 2; ++b) {
                const std::string how = data::line_comparison(columns, a, b);
                if (step.find(" " + how + " ") != std::string::npos) return how;
            }
        }
    }
    return std::nullopt;
}

std::optional<bool> comparison_follows_steps(const std::string& answer) {
    const std::optional<std::string> how = stated_comparison(answer);
    const std::vector<std::string> stated = stated_lines(answer);
    bool column_a = false, column_b = false;
    int a = 0, b = 0;
    if (!how || stated.size() != 2 || !data::parse_line(stated[0], column_a, a) || !data::parse_line(stated[1], column_b, b) ||
        column_a != column_b)
        return std::nullopt;
    return *how == data::line_comparison(column_a, a, b);
}

std::optional<bool> conclusion_follows_comparison(const std::string& question, const std::string& answer) {
    const std::string* asked = data::asked_relation(question);
    const std::optional<std::string> how = stated_comparison(answer);
    const std::string conclusion = answer_conclusion(answer);
    if (asked == nullptr || !how || (conclusion != "yes" && conclusion != "no")) return std::nullopt;
    return (*how == "is " + *asked) == (conclusion == "yes");
}

bool answer_matches(const std::string& answer, const std::string& truth) {
    return answer_conclusion(answer) == answer_conclusion(truth);
}

void Accuracy::add(bool ok) {
    correct += ok ? 1 : 0;
    ++total;
}

void PopeMetrics::add(bool answered_yes, bool present) {
    if (answered_yes) {
        ++(present ? tp : fp);
    } else {
        ++(present ? fn : tn);
    }
}

double PopeMetrics::accuracy() const { return ratio(tp + tn, total()); }
double PopeMetrics::precision() const { return ratio(tp, tp + fp); }
double PopeMetrics::recall() const { return ratio(tp, tp + fn); }
double PopeMetrics::yes_ratio() const { return ratio(tp + fp, total()); }
double PopeMetrics::f1() const {
    const double p = precision(), r = recall();
    return p + r > 0 ? 2 * p * r / (p + r) : 0.0;
}

std::set<data::Shape> mentioned_shapes(const std::string& caption) {
    std::set<data::Shape> out;
    std::string word;
    auto flush = [&] {
        for (int i = 0; i < data::kShapeKinds && !word.empty(); ++i) {
            const auto s = static_cast<data::Shape>(i);
            if (word == data::shape_name(s) || word == data::shape_plural(s)) out.insert(s);
        }
        word.clear();
    };
    for (char c : caption) {
        if (std::isalpha(static_cast<unsigned char>(c))) {
            word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        } else {
            flush();
        }
    }
    flush();
    return out;
}

void ChairMetrics::add(const std::string& caption, const std::set<data::Shape>& present) {
    int64_t wrong = 0;
    const std::set<data::Shape> mentions = mentioned_shapes(caption);
    for (data::Shape s : mentions) wrong += present.count(s) ? 0 : 1;
    ++captions;
    hallucinated_captions += wrong > 0 ? 1 : 0;
    mentioned += static_cast<int64_t>(mentions.size());
    hallucinated += wrong;
}

void LookupMetrics::add(const std::string& answer, const std::string& truth, const std::vector<std::string>& attributes) {
    ++questions;
    if (answer == truth) {
        ++right;
    } else if (std::find(attributes.begin(), attributes.end(), answer) != attributes.end()) {
        ++another;
    }
}

nlohmann::ordered_json EvalResult::to_json() const {
    using ojson = nlohmann::ordered_json;
    ojson j;
    j["name"] = name;
    j["parameters"] = {{"total", params.total}, {"activated", params.activated}};
    ojson tasks_json = ojson::object();
    for (const auto& [task, acc] : tasks) {
        tasks_json[task] = {{"accuracy", acc.rate()}, {"correct", acc.correct}, {"total", acc.total}};
    }
    j["understanding"] = {{"overall", {{"accuracy", vqa_overall.rate()}, {"total", vqa_overall.total}}},
                          {"tasks", tasks_json}};
    ojson pope_json = ojson::object();
    for (const auto& [split, m] : pope) {
        pope_json[split] = {{"accuracy", m.accuracy()}, {"precision", m.precision()}, {"recall", m.recall()},
                            {"f1", m.f1()},             {"yes_ratio", m.yes_ratio()}, {"total", m.total()},
                            {"tp", m.tp}, {"fp", m.fp}, {"tn", m.tn}, {"fn", m.fn}};
    }
    j["pope"] = pope_json;
    ojson lookup_json = ojson::object();
    for (const auto& [task, m] : lookup) {
        lookup_json[task] = {{"right", m.right_rate()}, {"another_shape", m.another_rate()}, {"questions", m.questions}};
    }
    j["lookup"] = lookup_json;
    auto add_rate = [&](const char* key, const Accuracy& a) {
        if (a.total > 0) j[key] = {{"rate", a.rate()}, {"answers", a.total}};
    };
    add_rate("relation_conclusion_follows_steps", relation_steps_followed);
    add_rate("relation_comparison_follows_steps", comparison_followed);
    add_rate("relation_conclusion_follows_comparison", conclusion_matched);
    j["chair"] = {{"chair_i", chair.chair_i()},
                  {"chair_s", chair.chair_s()},
                  {"captions", chair.captions},
                  {"mentioned", chair.mentioned},
                  {"hallucinated", chair.hallucinated}};
    j["decode"] = {{"tokens_per_second", decode_tokens_per_second()},
                   {"tokens", decode_tokens},
                   {"seconds", decode_seconds}};
    return j;
}

EvalResult evaluate(const models::LlavaModel& model, const text::Tokenizer& tok, const std::string& world_dir,
                    const EvalOptions& options, const std::string& name) {
    MOD_CHECK(options.limit >= 0, ValueError, "evaluate", "limit >= 0 expected, got ", options.limit);
    const fs::path test = fs::path(world_dir) / "test";
    EvalResult result;
    result.name = name;
    result.params = model.parameter_counts();
    Answerer answerer(model, tok, result);
    auto progress = [&](const std::string& set, size_t done, size_t total) {
        if (options.on_progress) options.on_progress(set, static_cast<int64_t>(done), static_cast<int64_t>(total));
    };

    auto record = [&](const std::string& set, const TestSample& s, std::string truth, std::string answer, bool ok) {
        result.answers.push_back(
            {set, s.task, s.image, s.prompt.back().value, std::move(truth), std::move(answer), ok});
    };

    const std::vector<TestSample> vqa = read_test_set((test / "vqa.json").string(), false, options.limit);
    const std::map<std::string, data::Scene> scenes = read_test_scenes(test);
    for (size_t i = 0; i < vqa.size(); ++i) {
        std::string answer = answerer.answer(vqa[i], options.answer_tokens);
        const bool ok = answer_matches(answer, vqa[i].answer);
        result.tasks[vqa[i].task.empty() ? "unknown" : vqa[i].task].add(ok);
        result.vqa_overall.add(ok);
        const std::vector<std::string> steps =
            vqa[i].task == "relation" ? stated_lines(vqa[i].answer) : std::vector<std::string>{};
        add_lookup(result.lookup, scenes, vqa[i], steps, answer);
        if (!steps.empty()) {
            const std::string& question = vqa[i].prompt.back().value;
            if (const std::optional<bool> follows = conclusion_follows_steps(question, answer))
                result.relation_steps_followed.add(*follows);
            if (const std::optional<bool> follows = comparison_follows_steps(answer)) result.comparison_followed.add(*follows);
            if (const std::optional<bool> matched = conclusion_follows_comparison(question, answer))
                result.conclusion_matched.add(*matched);
        }
        record("vqa", vqa[i], vqa[i].answer, std::move(answer), ok);
        progress("vqa", i + 1, vqa.size());
    }
    for (const char* split : {"random", "popular", "adversarial"}) {
        const std::string set = std::string("pope_") + split;
        const std::vector<TestSample> probes = read_test_set((test / (set + ".json")).string(), false, options.limit);
        PopeMetrics& m = result.pope[split];
        for (size_t i = 0; i < probes.size(); ++i) {
            std::string answer = answerer.answer(probes[i], options.answer_tokens);
            const bool yes = answer_is_yes(answer), present = answer_is_yes(probes[i].answer);
            m.add(yes, present);
            record(set, probes[i], probes[i].answer, std::move(answer), yes == present);
            progress(set, i + 1, probes.size());
        }
    }
    const std::vector<TestSample> captions = read_test_set((test / "chair.json").string(), true, options.limit);
    for (size_t i = 0; i < captions.size(); ++i) {
        std::string caption = answerer.answer(captions[i], options.caption_tokens);
        const int64_t hallucinated_before = result.chair.hallucinated;
        result.chair.add(caption, captions[i].shapes);
        std::string shapes;
        for (data::Shape shape : captions[i].shapes) {
            shapes += (shapes.empty() ? "" : ", ") + std::string(data::shape_name(shape));
        }
        const bool none_hallucinated = result.chair.hallucinated == hallucinated_before;
        record("chair", captions[i], std::move(shapes), std::move(caption), none_hallucinated);
        progress("chair", i + 1, captions.size());
    }
    return result;
}

std::string answers_jsonl(const EvalResult& result) {
    std::string out;
    for (const AnswerRecord& a : result.answers) {
        // A byte-level model may stop inside a multi-byte character; such bytes are written as
        // U+FFFD rather than stopping the whole file.
        out += nlohmann::ordered_json{{"model", result.name}, {"set", a.set},         {"task", a.task},
                                      {"image", a.image},     {"question", a.question}, {"truth", a.truth},
                                      {"answer", a.answer},   {"correct", a.correct}}
                   .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
               "\n";
    }
    return out;
}

std::string format_table(const std::vector<EvalResult>& results) {
    // Rows in a fixed order; task rows are the union over the results ("-" where a result lacks one).
    std::vector<std::pair<std::string, std::vector<std::string>>> rows;
    auto row = [&](const std::string& label, const std::function<std::string(const EvalResult&)>& cell) {
        std::vector<std::string> cells;
        for (const EvalResult& r : results) cells.push_back(cell(r));
        rows.emplace_back(label, std::move(cells));
    };
    row("parameters (total)", [](const EvalResult& r) { return count_si(r.params.total); });
    row("parameters (activated)", [](const EvalResult& r) { return count_si(r.params.activated); });
    std::set<std::string> tasks;
    for (const EvalResult& r : results) {
        for (const auto& [task, acc] : r.tasks) tasks.insert(task);
    }
    for (const std::string& task : tasks) {
        row("vqa " + task + " acc %", [&](const EvalResult& r) {
            const auto it = r.tasks.find(task);
            return it == r.tasks.end() ? std::string("-") : percent(it->second.rate());
        });
    }
    row("vqa overall acc %", [](const EvalResult& r) { return percent(r.vqa_overall.rate()); });
    // A row of one metric of one entry of a per-key map (r.*field)[key]; "-" where a result lacks the key.
    auto keyed_row = [&](const std::string& label, auto field, const std::string& key, auto metric) {
        row(label, [=](const EvalResult& r) {
            const auto it = (r.*field).find(key);
            return it == (r.*field).end() ? std::string("-") : percent((it->second.*metric)());
        });
    };
    for (const std::string task : {"color", "position", "relation"}) {
        if (std::none_of(results.begin(), results.end(), [&](const EvalResult& r) { return r.lookup.count(task) > 0; })) continue;
        const std::string label = task == "relation" ? "lookup relation steps: " : "lookup " + task + ", 2+ shapes: ";
        keyed_row(label + "right %", &EvalResult::lookup, task, &LookupMetrics::right_rate);
        keyed_row(label + "another shape's %", &EvalResult::lookup, task, &LookupMetrics::another_rate);
    }
    auto rate_row = [&](const std::string& label, Accuracy EvalResult::*field) {
        if (std::none_of(results.begin(), results.end(), [&](const EvalResult& r) { return (r.*field).total > 0; })) return;
        row(label, [=](const EvalResult& r) { return (r.*field).total > 0 ? percent((r.*field).rate()) : std::string("-"); });
    };
    rate_row("lookup relation conclusion follows its steps %", &EvalResult::relation_steps_followed);
    rate_row("lookup relation comparison follows its steps %", &EvalResult::comparison_followed);
    rate_row("lookup relation conclusion follows its comparison %", &EvalResult::conclusion_matched);
    for (const std::string split : {"random", "popular", "adversarial"}) {
        const std::string label = "pope " + split + " ";
        keyed_row(label + "acc %", &EvalResult::pope, split, &PopeMetrics::accuracy);
        keyed_row(label + "precision %", &EvalResult::pope, split, &PopeMetrics::precision);
        keyed_row(label + "recall %", &EvalResult::pope, split, &PopeMetrics::recall);
        keyed_row(label + "f1 %", &EvalResult::pope, split, &PopeMetrics::f1);
        keyed_row(label + "yes-ratio %", &EvalResult::pope, split, &PopeMetrics::yes_ratio);
    }
    row("chair_i %", [](const EvalResult& r) { return percent(r.chair.chair_i()); });
    row("chair_s %", [](const EvalResult& r) { return percent(r.chair.chair_s()); });
    row("decode tokens/s", [](const EvalResult& r) { return fixed1(r.decode_tokens_per_second()); });

    size_t label_width = std::string("metric").size();
    for (const auto& [label, cells] : rows) label_width = std::max(label_width, label.size());
    std::vector<size_t> widths;
    for (const EvalResult& r : results) widths.push_back(r.name.size());
    for (const auto& [label, cells] : rows) {
        for (size_t c = 0; c < cells.size(); ++c) widths[c] = std::max(widths[c], cells[c].size());
    }
    auto line = [&](const std::string& label, const std::vector<std::string>& cells) {
        std::string out = label + std::string(label_width - label.size(), ' ');
        for (size_t c = 0; c < cells.size(); ++c) out += "  " + std::string(widths[c] - cells[c].size(), ' ') + cells[c];
        return out + "\n";
    };
    std::vector<std::string> names;
    for (const EvalResult& r : results) names.push_back(r.name);
    std::string out = line("metric", names);
    size_t total_width = label_width;
    for (size_t w : widths) total_width += 2 + w;
    out += std::string(total_width, '-') + "\n";
    for (const auto& [label, cells] : rows) out += line(label, cells);
    return out;
}

}  // namespace mod::train
