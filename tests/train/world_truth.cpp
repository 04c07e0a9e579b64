// Template parsing with std::regex and answers computed straight from the scene's objects.
#include "world_truth.h"

#include <fstream>
#include <regex>
#include <set>

namespace mod::test {

using data::Colour;
using data::Object;
using data::Scene;
using data::Shape;

namespace {

const char* kSuffix = "\nAnswer the question using a single word or phrase.";
const char* kReasonedSuffix = "\nSay the column or row of each shape, then answer yes or no.";
const std::string kPos = "(top left|top center|top right|middle left|center|middle right|bottom left|bottom center|bottom right)";

std::vector<const Object*> shapes_of(const Scene& s) {
    std::vector<const Object*> out;
    for (const Object& o : s.objects) {
        if (o.shape != Shape::text) out.push_back(&o);
    }
    return out;
}

const Object* find(const Scene& s, const std::string& colour, const std::string& shape) {
    for (const Object& o : s.objects) {
        if (o.shape != Shape::text && colour == data::colour_name(o.colour) && shape == data::shape_name(o.shape)) return &o;
    }
    return nullptr;
}

const Object* at(const Scene& s, const std::string& pos) {
    int r = 0, c = 0;
    if (!data::parse_position(pos, r, c)) return nullptr;
    for (const Object& o : s.objects) {
        if (o.row == r && o.col == c) return &o;
    }
    return nullptr;
}

std::string cell_name(const Object& o) {
    const std::string rows[] = {"top", "middle", "bottom"}, cols[] = {"left", "center", "right"};
    return o.row == 1 && o.col == 1 ? std::string("center") : rows[o.row] + " " + cols[o.col];
}

std::string singular(const std::string& plural) {
    if (plural == "crosses") return "cross";
    return plural.substr(0, plural.size() - 1);
}

std::optional<std::string> short_answer(const Scene& s, const std::string& q) {
    std::smatch m;
    const auto shapes = shapes_of(s);
    auto count = [&](auto pred) {
        int n = 0;
        for (const Object* o : shapes) n += pred(*o) ? 1 : 0;
        return std::to_string(n);
    };
    if (std::regex_match(q, m, std::regex("What color is the (\\w+)\\?"))) {
        const Object* hit = nullptr;
        int n = 0;
        for (const Object* o : shapes) {
            if (m[1] == data::shape_name(o->shape)) hit = o, ++n;
        }
        if (n != 1) return "<ambiguous>";
        return std::string(data::colour_name(hit->colour));
    }
    if (std::regex_match(q, m, std::regex("What color is the (\\w+) at the " + kPos + "\\?"))) {
        const Object* o = at(s, m[2]);
        if (o == nullptr || m[1] != data::shape_name(o->shape)) return "<no such object>";
        return std::string(data::colour_name(o->colour));
    }
    if (std::regex_match(q, m, std::regex("What shape is the (\\w+) object\\?"))) {
        const Object* hit = nullptr;
        int n = 0;
        for (const Object& o : s.objects) {  // text counts as an object here: it has a colour too
            if (m[1] == data::colour_name(o.colour)) hit = &o, ++n;
        }
        if (n != 1) return "<ambiguous>";
        return std::string(data::shape_name(hit->shape));
    }
    if (std::regex_match(q, m, std::regex("What shape is at the " + kPos + "\\?"))) {
        const Object* o = at(s, m[1]);
        if (o == nullptr || o->shape == Shape::text) return "<no shape there>";
        return std::string(data::shape_name(o->shape));
    }
    if (q == "How many shapes are there?") return std::to_string(shapes.size());
    if (std::regex_match(q, m, std::regex("How many (\\w+) shapes are there\\?"))) {
        return count([&](const Object& o) { return m[1] == data::colour_name(o.colour); });
    }
    if (std::regex_match(q, m, std::regex("How many (\\w+) are there\\?"))) {
        const std::string shape = singular(m[1]);
        return count([&](const Object& o) { return shape == data::shape_name(o.shape); });
    }
    if (std::regex_match(q, m, std::regex("Where is the (\\w+) (\\w+)\\?"))) {
        const Object* o = find(s, m[1], m[2]);
        if (o == nullptr) return "<no such object>";
        return cell_name(*o);
    }
    if (std::regex_match(q, m, std::regex("Is the (\\w+) (\\w+) (to the left of|to the right of|above|below) the (\\w+) (\\w+)\\?"))) {
        const Object* a = find(s, m[1], m[2]);
        const Object* b = find(s, m[4], m[5]);
        if (a == nullptr || b == nullptr) return "<no such object>";
        const std::string r = m[3];
        const bool yes = r == "to the left of" ? a->col < b->col
                         : r == "to the right of" ? a->col > b->col
                         : r == "above" ? a->row < b->row
                                        : a->row > b->row;
        return std::string(yes ? "yes" : "no");
    }
    if (q == "What is written in the image?" ||
        std::regex_match(q, m, std::regex("What does the text at the " + kPos + " say\\?"))) {
        const Object* t = nullptr;
        for (const Object& o : s.objects) {
            if (o.shape == Shape::text) t = &o;
        }
        if (t == nullptr) return "<no text>";
        if (m.size() > 1 && m[1].matched && at(s, m[1]) != t) return "<text elsewhere>";
        return t->text;
    }
    if (std::regex_match(q, m, std::regex("Is there a (?:(\\w+) )?(\\w+) in the image\\?"))) {
        for (const Object* o : shapes) {
            if (m[2] == data::shape_name(o->shape) && (!m[1].matched || m[1] == data::colour_name(o->colour))) {
                return std::string("yes");
            }
        }
        return std::string("no");
    }
    return std::nullopt;
}

// "Is the red circle to the left of the blue square?" answered with its steps, each shape's
// column for left and right, its row for above and below:
// "The red circle is in the left column and the blue square is in the center column, so yes."
std::optional<std::string> reasoned_answer(const Scene& s, const std::string& q, bool compared) {
    std::smatch m;
    if (!std::regex_match(q, m, std::regex("Is the (\\w+) (\\w+) (to the left of|to the right of|above|below) the (\\w+) (\\w+)\\?"))) {
        return std::nullopt;
    }
    const Object* a = find(s, m[1], m[2]);
    const Object* b = find(s, m[4], m[5]);
    if (a == nullptr || b == nullptr) return "<no such object>";
    const bool columns = m[3].str().rfind("to the ", 0) == 0;
    auto line = [&](const Object& o) {
        static const char* const cols[] = {"left", "center", "right"};
        static const char* const rows[] = {"top", "middle", "bottom"};
        return columns ? std::string(cols[o.col]) + " column" : std::string(rows[o.row]) + " row";
    };
    const std::string a_name = m[1].str() + " " + m[2].str(), b_name = m[4].str() + " " + m[5].str();
    // Compared: "..., so the red circle is to the left of the blue square, so yes."
    std::string comparison;
    if (compared) {
        const int pa = columns ? a->col : a->row, pb = columns ? b->col : b->row;
        const std::string how = pa == pb ? (columns ? "shares a column with" : "shares a row with")
                                : columns ? (pa < pb ? "is to the left of" : "is to the right of")
                                          : (pa < pb ? "is above" : "is below");
        comparison = ", so the " + a_name + " " + how + " the " + b_name;
    }
    return "The " + a_name + " is in the " + line(*a) + " and the " + b_name + " is in the " + line(*b) + comparison +
           ", so " + *short_answer(s, q) + ".";
}

std::optional<std::string> sentence_answer(const Scene& s, const std::string& q) {
    std::smatch m;
    const auto shapes = shapes_of(s);
    if (std::regex_match(q, m, std::regex("What is at the " + kPos + "\\?"))) {
        const Object* o = at(s, m[1]);
        if (o == nullptr) return std::string("Nothing, that part of the image is empty.");
        if (o->shape == Shape::text) {
            return "The text \"" + o->text + "\" is written there in " + data::colour_name(o->colour) + ".";
        }
        return std::string("There is a ") + (o->size == data::Size::small ? "small " : "large ") +
               data::colour_name(o->colour) + " " + data::shape_name(o->shape) + " at the " + m[1].str() + ".";
    }
    if (q == "How many shapes are in the image?") {
        return shapes.size() == 1 ? std::string("There is 1 shape.")
                                  : "There are " + std::to_string(shapes.size()) + " shapes.";
    }
    if (q == "Is there any text in the image?") {
        for (const Object& o : s.objects) {
            if (o.shape == Shape::text) return "Yes, it says \"" + o.text + "\".";
        }
        return std::string("No, there is no text in the image.");
    }
    if (std::regex_match(q, m, std::regex("What color is the (\\w+)( at the " + kPos + ")?\\?"))) {
        const std::string colour = *short_answer(s, m[2].matched ? q : "What color is the " + m[1].str() + "?");
        return "The " + m[1].str() + m[2].str() + " is " + colour + ".";
    }
    return std::nullopt;
}

// The question without its image tags, wherever the world put them: "<image>\n" before it,
// "\n<image>" after its first line, or "<image>" right after each named shape.
std::string without_image_tag(const std::string& question) {
    std::string q = question.rfind("<image>\n", 0) == 0 ? question.substr(8) : question;
    for (const std::string tag : {"\n<image>", "<image>"}) {
        for (size_t at = q.find(tag); at != std::string::npos; at = q.find(tag, at)) q.erase(at, tag.size());
    }
    return q;
}

// The question without `suffix`; nullopt when it does not end with it.
std::optional<std::string> before_suffix(const std::string& q, const std::string& suffix) {
    if (q.size() <= suffix.size() || q.compare(q.size() - suffix.size(), suffix.size(), suffix) != 0) return std::nullopt;
    return q.substr(0, q.size() - suffix.size());
}

bool is_describe(const std::string& q) {
    return q == "Describe the image in detail." || q == "What do you see in this image?" ||
           q == "Give a detailed description of the image.";
}

}  // namespace

std::optional<std::string> expected_answer(const Scene& scene, const std::string& question) {
    const std::string q = without_image_tag(question);
    if (const std::optional<std::string> body = before_suffix(q, kSuffix)) return short_answer(scene, *body);
    if (const std::optional<std::string> body = before_suffix(q, kReasonedSuffix)) return reasoned_answer(scene, *body, false);
    return sentence_answer(scene, q);
}

std::optional<std::string> compared_answer(const Scene& scene, const std::string& question) {
    const std::optional<std::string> body = before_suffix(without_image_tag(question), kReasonedSuffix);
    return body ? reasoned_answer(scene, *body, true) : std::nullopt;
}

bool caption_true(const Scene& s, const std::string& caption, std::string* why) {
    std::smatch m;
    const auto shapes = shapes_of(s);
    if (!std::regex_search(caption, m, std::regex("^A (\\w+) (\\w+) background with (\\d+) shapes?\\."))) {
        *why = "no header";
        return false;
    }
    if (m[1] != data::texture_name(s.texture) || m[2] != data::tint_name(s.tint)) {
        *why = "wrong background";
        return false;
    }
    if (std::stoul(m[3]) != shapes.size()) {
        *why = "wrong count " + m[3].str();
        return false;
    }
    const std::regex mention("a (small|large) (\\w+) (\\w+) at the " + kPos);
    std::set<const Object*> mentioned;
    for (auto it = std::sregex_iterator(caption.begin(), caption.end(), mention); it != std::sregex_iterator(); ++it) {
        const std::smatch& x = *it;
        const Object* o = find(s, x[2], x[3]);
        if (o == nullptr || at(s, x[4]) != o || x[1] != data::size_name(o->size)) {
            *why = "not in the scene: " + x.str();
            return false;
        }
        mentioned.insert(o);
    }
    if (mentioned.size() != shapes.size()) {
        *why = "mentions " + std::to_string(mentioned.size()) + " of " + std::to_string(shapes.size()) + " shapes";
        return false;
    }
    const Object* t = nullptr;
    for (const Object& o : s.objects) {
        if (o.shape == Shape::text) t = &o;
    }
    const bool says_text = std::regex_search(caption, m, std::regex("The text \"([A-Z0-9]+)\" is written in (\\w+) at the " + kPos + "\\."));
    if (says_text != (t != nullptr) ||
        (t && (m[1] != t->text || m[2] != data::colour_name(t->colour) || at(s, m[3]) != t))) {
        *why = "wrong text";
        return false;
    }
    return true;
}

std::string check_answer(const Scene& scene, const std::string& question, const std::string& answer) {
    if (is_describe(without_image_tag(question))) {
        std::string why;
        return caption_true(scene, answer, &why) ? "" : "caption false (" + why + "): " + answer;
    }
    const std::optional<std::string> expected = expected_answer(scene, question);
    if (!expected) return "unknown question template: " + question;
    return *expected == answer ? "" : "expected \"" + *expected + "\", got \"" + answer + "\" for: " + question;
}

std::map<std::string, Scene> read_scenes(const std::string& path) {
    std::map<std::string, Scene> scenes;
    std::ifstream f(path);
    std::string line;
    while (std::getline(f, line)) {
        const nlohmann::json j = nlohmann::json::parse(line);
        scenes[j.at("image").get<std::string>()] = data::scene_from_json(j.at("scene"), path);
    }
    return scenes;
}

}  // namespace mod::test
