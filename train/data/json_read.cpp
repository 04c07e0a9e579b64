// nlohmann::json's parser callback streams the array: returning false at the end of each depth-1
// element discards it after we have used it. Positions come from the input stream (nlohmann reads it
// one character at a time, so tellg() is the parser's position).
#include "data/json_read.h"

#include "data/errors.h"

#include <algorithm>
#include <fstream>

namespace mod::data {

namespace {

// nlohmann's message without its "[json.exception...] parse error at line L, column C: " prefix.
std::string parse_error_detail(const nlohmann::json::parse_error& e) {
    const std::string what = e.what();
    const size_t column = what.find("column ");
    const size_t colon = what.find(": ", column == std::string::npos ? 0 : column);
    return colon == std::string::npos ? what : what.substr(colon + 2);
}

std::ifstream open_or_throw(const std::string& path, const std::string& where) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw JsonError("[" + where + "] " + path + ": cannot open");
    return f;
}

std::string position_of(const nlohmann::json::parse_error& e, const std::string& path) {
    // e.byte counts the characters read, the offending one included.
    return file_line_col(path, e.byte == 0 ? 0 : e.byte - 1);
}

}  // namespace

std::string file_line_col(const std::string& path, size_t byte) {
    std::ifstream f(path, std::ios::binary);
    size_t line = 1, col = 1;
    char c = 0;
    for (size_t i = 0; i < byte && f.get(c); ++i) {
        if (c == '\n') {
            ++line;
            col = 1;
        } else if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) {
            ++col;  // columns count characters, not UTF-8 continuation bytes
        }
    }
    return std::to_string(line) + ":" + std::to_string(col);
}

nlohmann::json read_json_file(const std::string& path, const std::string& where) {
    std::ifstream f = open_or_throw(path, where);
    try {
        return nlohmann::json::parse(f);
    } catch (const nlohmann::json::parse_error& e) {
        throw JsonError("[" + where + "] " + path + ":" + position_of(e, path) + ": " + parse_error_detail(e));
    }
}

void stream_json_array(const std::string& path, const std::string& where,
                       const std::function<void(nlohmann::json& element, size_t index)>& on_element) {
    std::ifstream f = open_or_throw(path, where);
    size_t index = 0;
    bool top_is_array = false;
    std::streamoff element_start = 0;
    auto callback = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
        using E = nlohmann::json::parse_event_t;
        if (depth == 0 && event == E::array_start) top_is_array = true;
        if (depth == 0 && (event == E::object_start || event == E::value) && !top_is_array) {
            throw JsonError("[" + where + "] " + path + ":1:1: expected a JSON list of samples");
        }
        if (depth == 1 && (event == E::object_start || event == E::array_start)) element_start = f.tellg() - std::streamoff{1};
        const bool element_done = depth == 1 && (event == E::object_end || event == E::array_end || event == E::value);
        if (!element_done || !top_is_array) return true;
        if (event == E::value) element_start = f.tellg() - std::streamoff{1};
        try {
            on_element(parsed, index++);
        } catch (const JsonError& e) {
            const std::string pos = file_line_col(path, static_cast<size_t>(std::max<std::streamoff>(0, element_start)));
            throw JsonError("[" + where + "] " + path + ":" + pos + ": " + e.what());
        }
        return false;  // drop the element: memory stays at one sample
    };
    try {
        const nlohmann::json rest = nlohmann::json::parse(f, callback);  // the emptied list
    } catch (const nlohmann::json::parse_error& e) {
        throw JsonError("[" + where + "] " + path + ":" + position_of(e, path) + ": " + parse_error_detail(e));
    }
}

}  // namespace mod::data
