// key=value parsing with typed getters and nearest-key suggestions.
#include "data/args.h"

#include "core/suggest.h"
#include "data/errors.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <sstream>

namespace mod::data {

KeyValueArgs::KeyValueArgs(std::string program, std::string summary)
    : program_(std::move(program)), summary_(std::move(summary)) {}

void KeyValueArgs::add(const std::string& key, const std::string& default_value, const std::string& help) {
    order_.push_back(key);
    keys_[key] = Key{default_value, default_value, help, false};
}

bool KeyValueArgs::parse(int argc, const char* const* argv) {
    std::vector<std::string> seen;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--help" || arg == "-h" || arg == "help") return false;
        const size_t eq = arg.find('=');
        if (eq == std::string::npos || eq == 0) {
            throw ArgError("[" + program_ + "] argument \"" + arg + "\" is not key=value (see --help)");
        }
        const std::string key = arg.substr(0, eq);
        auto it = keys_.find(key);
        if (it == keys_.end()) {
            throw ArgError("[" + program_ + "] unknown key \"" + key + "\"; did you mean \"" + nearest(key, order_) +
                           "\"? (see --help)");
        }
        if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
            throw ArgError("[" + program_ + "] key \"" + key + "\" given twice");
        }
        seen.push_back(key);
        it->second.value = arg.substr(eq + 1);
        it->second.given = true;
    }
    return true;
}

double KeyValueArgs::get_double(const std::string& key, double lo, double hi) const {
    const std::string& v = find(key).value;
    char* end = nullptr;
    errno = 0;
    const double x = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0' || errno == ERANGE) {
        throw ArgError("[" + program_ + "] " + key + "=" + v + ": expected a number");
    }
    if (!(x >= lo && x <= hi)) {
        std::ostringstream os;
        os << "[" << program_ << "] " << key << "=" << v << ": expected a number in [" << lo << ", " << hi << "]";
        throw ArgError(os.str());
    }
    return x;
}

bool KeyValueArgs::get_bool(const std::string& key) const {
    const std::string& v = find(key).value;
    if (v == "true" || v == "1" || v == "yes") return true;
    if (v == "false" || v == "0" || v == "no") return false;
    throw ArgError("[" + program_ + "] " + key + "=" + v + ": expected true or false");
}

std::string KeyValueArgs::get_choice(const std::string& key, const std::vector<std::string>& choices) const {
    const std::string& v = find(key).value;
    if (std::find(choices.begin(), choices.end(), v) != choices.end()) return v;
    std::string list;
    for (const std::string& c : choices) list += (list.empty() ? "" : "|") + c;
    throw ArgError("[" + program_ + "] " + key + "=" + v + ": expected " + list + "; did you mean \"" + nearest(v, choices) +
                   "\"?");
}

void KeyValueArgs::set_default(const std::string& key, const std::string& value) {
    auto it = keys_.find(key);
    if (it == keys_.end()) {
        throw ArgError("[" + program_ + "] unknown key \"" + key + "\" in the config file; did you mean \"" +
                       nearest(key, order_) + "\"?");
    }
    it->second.default_value = value;
    if (!it->second.given) it->second.value = value;
}

std::vector<std::pair<std::string, std::string>> KeyValueArgs::resolved() const {
    std::vector<std::pair<std::string, std::string>> out;
    for (const std::string& k : order_) out.emplace_back(k, keys_.at(k).value);
    return out;
}

const KeyValueArgs::Key& KeyValueArgs::find(const std::string& key) const {
    auto it = keys_.find(key);
    if (it == keys_.end()) throw ArgError("[" + program_ + "] key \"" + key + "\" was never declared");
    return it->second;
}

std::string KeyValueArgs::get(const std::string& key) const { return find(key).value; }

int64_t KeyValueArgs::get_int(const std::string& key) const {
    const std::string& v = find(key).value;
    char* end = nullptr;
    errno = 0;
    const long long x = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || errno == ERANGE) {
        throw ArgError("[" + program_ + "] " + key + "=" + v + ": expected an integer");
    }
    return x;
}

int64_t KeyValueArgs::get_int(const std::string& key, int64_t lo, int64_t hi) const {
    const int64_t x = get_int(key);
    if (x < lo || x > hi) {
        throw ArgError("[" + program_ + "] " + key + "=" + std::to_string(x) + ": expected an integer in [" +
                       std::to_string(lo) + ", " + std::to_string(hi) + "]");
    }
    return x;
}

uint64_t KeyValueArgs::get_u64(const std::string& key) const {
    const std::string& v = find(key).value;
    char* end = nullptr;
    errno = 0;
    const unsigned long long x = std::strtoull(v.c_str(), &end, 10);
    if (v.empty() || v[0] == '-' || *end != '\0' || errno == ERANGE) {
        throw ArgError("[" + program_ + "] " + key + "=" + v + ": expected a non-negative integer");
    }
    return x;
}

std::vector<std::string> KeyValueArgs::get_list(const std::string& key) const {
    std::vector<std::string> out;
    std::stringstream ss(find(key).value);
    std::string item;
    while (std::getline(ss, item, ',')) {
        if (!item.empty()) out.push_back(item);
    }
    return out;
}

std::string KeyValueArgs::help() const {
    std::string out = "usage: " + program_ + " key=value ...\n" + summary_ + "\n\nkeys (default):\n";
    size_t width = 0;
    for (const std::string& k : order_) width = std::max(width, k.size() + keys_.at(k).default_value.size() + 3);
    for (const std::string& k : order_) {
        const Key& key = keys_.at(k);
        std::string left = "  " + k + "=" + key.default_value;
        left.resize(std::max(left.size() + 2, width + 4), ' ');
        out += left + key.help + "\n";
    }
    return out;
}

}  // namespace mod::data
