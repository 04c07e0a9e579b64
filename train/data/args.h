// key=value command-line arguments, the style of every program of the project:
//   make_world out=DIR seed=3 images=500
// Each key is declared with its default and a help line; --help lists them. An unknown key is an
// ArgError that suggests the nearest declared key.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace mod::data {

class KeyValueArgs {
public:
    KeyValueArgs(std::string program, std::string summary);

    void add(const std::string& key, const std::string& default_value, const std::string& help);

    // Returns false when --help or -h was given (print help() and exit 0). Throws ArgError.
    bool parse(int argc, const char* const* argv);

    std::string get(const std::string& key) const;
    int64_t get_int(const std::string& key) const;
    // Throws ArgError when the value lies outside [lo, hi].
    int64_t get_int(const std::string& key, int64_t lo, int64_t hi) const;
    uint64_t get_u64(const std::string& key) const;
    std::vector<std::string> get_list(const std::string& key) const;  // comma-separated, empty -> {}
    double get_double(const std::string& key, double lo, double hi) const;  // ArgError outside [lo, hi]
    bool get_bool(const std::string& key) const;                          // true/false, 1/0, yes/no
    // The value, which must be one of `choices` (ArgError suggests the nearest).
    std::string get_choice(const std::string& key, const std::vector<std::string>& choices) const;
    // Replaces a key's default (e.g. from a config file's "train" section) unless the command line set it.
    void set_default(const std::string& key, const std::string& value);
    bool was_given(const std::string& key) const { return find(key).given; }
    // Every key with its final value, in declaration order: the resolved configuration.
    std::vector<std::pair<std::string, std::string>> resolved() const;

    std::string help() const;

private:
    struct Key {
        std::string value;
        std::string default_value;
        std::string help;
        bool given = false;
    };
    std::string program_;
    std::string summary_;
    std::vector<std::string> order_;
    std::map<std::string, Key> keys_;

    const Key& find(const std::string& key) const;
};


}  // namespace mod::data
