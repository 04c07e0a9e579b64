// Arrays are streamed by scan_json_array, which hands over each element's bytes and file offset; an
// element is parsed on its own, so a parser error's position is the element's offset plus the
// parser's position in it.
#include "data/json_read.h"

#include "data/errors.h"

#include <algorithm>
#include <fstream>
#include <vector>

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

// The file offset of a parse error; `start`: where the parser's input began in the file.
uint64_t offset_of(const nlohmann::json::parse_error& e, uint64_t start = 0) {
    return start + (e.byte == 0 ? 0 : e.byte - 1);  // e.byte counts the characters read, the offending one included
}

}  // namespace

std::string file_line_col(const std::string& path, size_t byte) {
    std::ifstream f(path, std::ios::binary);
    std::vector<char> buf(size_t{1} << 20);  // chunks: an error near the end of a large file is found fast
    size_t line = 1, col = 1;
    for (size_t left = byte; left > 0;) {
        f.read(buf.data(), static_cast<std::streamsize>(std::min(left, buf.size())));
        const size_t got = static_cast<size_t>(f.gcount());
        if (got == 0) break;
        for (size_t i = 0; i < got; ++i) {
            if (buf[i] == '\n') {
                ++line;
                col = 1;
            } else if ((static_cast<unsigned char>(buf[i]) & 0xC0) != 0x80) {
                ++col;  // columns count characters, not UTF-8 continuation bytes
            }
        }
        left -= got;
    }
    return std::to_string(line) + ":" + std::to_string(col);
}

JsonError json_error_at(const std::string& where, const std::string& path, uint64_t byte, const std::string& what) {
    return JsonError("[" + where + "] " + path + ":" + file_line_col(path, byte) + ": " + what);
}

nlohmann::json read_json_file(const std::string& path, const std::string& where) {
    std::ifstream f = open_or_throw(path, where);
    try {
        return nlohmann::json::parse(f);
    } catch (const nlohmann::json::parse_error& e) {
        throw json_error_at(where, path, offset_of(e), parse_error_detail(e));
    }
}

void stream_json_array(const std::string& path, const std::string& where,
                       const std::function<void(nlohmann::json& element, size_t index)>& on_element) {
    scan_json_array(path, where, [&](const JsonElement& element) {
        nlohmann::json j = parse_json_element(path, where, element);
        try {
            on_element(j, element.index);
        } catch (const JsonError& e) {
            throw json_error_at(where, path, element.offset, e.what());
        }
    });
}

nlohmann::json parse_json_element(const std::string& path, const std::string& where, const JsonElement& element) {
    try {
        return nlohmann::json::parse(element.bytes.begin(), element.bytes.end());
    } catch (const nlohmann::json::parse_error& e) {
        throw json_error_at(where, path, offset_of(e, element.offset), parse_error_detail(e));
    }
}

}  // namespace mod::data
