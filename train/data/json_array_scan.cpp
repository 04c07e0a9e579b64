// A byte-level state machine over 1 MiB chunks. Between elements it checks the list's own syntax
// ('[', ',', ']', whitespace); inside an element it tracks only string, escape and bracket depth,
// which is all it takes to find the element's end: a bracket or quote inside a string never counts,
// and a mismatched bracket only makes the element's span wrong where the parser will reject it anyway.
#include "data/json_array_scan.h"

#include "data/errors.h"
#include "data/json_read.h"

#include <cstring>
#include <fstream>
#include <vector>

namespace mod::data {

namespace {

constexpr size_t kChunk = size_t{1} << 20;  // large reads for disk throughput, small next to a batch

enum class State {
    before_list,    // whitespace (and a UTF-8 byte order mark) before '['
    first_element,  // after '[': an element or ']'
    next_element,   // after ',': an element
    in_element,
    after_element,  // ',' or ']'
    after_list,     // whitespace only
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string shown(char c) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) return std::string("'") + c + "'";
    const char* hex = "0123456789abcdef";
    return std::string("byte 0x") + hex[u >> 4] + hex[u & 15];
}

}  // namespace

void scan_json_array(const std::string& path, const std::string& where,
                     const std::function<void(const JsonElement& element)>& on_element) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw JsonError("[" + where + "] " + path + ": cannot open");
    auto error_at = [&](uint64_t byte, const std::string& what) { return json_error_at(where, path, byte, what); };

    std::vector<char> buf(kChunk);
    uint64_t base = 0;  // file offset of buf[0]
    size_t filled = 0;  // bytes held in buf
    size_t pos = 0;     // next byte to look at
    size_t start = 0;   // first byte of the element in progress
    State state = State::before_list;
    int64_t depth = 0;  // brackets open in the element in progress
    bool in_string = false, escaped = false, scalar = false;
    size_t index = 0;

    auto emit = [&](size_t end) {  // the element is buf[start, end)
        on_element(JsonElement{base + start, std::string_view(buf.data() + start, end - start), index++});
        state = State::after_element;
        pos = end;
    };
    auto begin_element = [&](char c) {
        start = pos++;
        depth = c == '{' || c == '[' ? 1 : 0;
        in_string = c == '"';
        scalar = depth == 0 && !in_string;  // a number, a literal, or garbage the parser will name
        escaped = false;
        state = State::in_element;
    };

    for (;;) {
        if (pos == filled) {
            // Keep the element in progress (moved to the front), drop the rest, read the next chunk.
            const size_t keep_from = state == State::in_element ? start : filled;
            std::memmove(buf.data(), buf.data() + keep_from, filled - keep_from);
            base += keep_from;
            filled -= keep_from;
            pos = filled;
            start = 0;
            if (filled == buf.size()) buf.resize(buf.size() * 2);  // one element longer than the buffer
            f.read(buf.data() + filled, static_cast<std::streamsize>(buf.size() - filled));
            if (f.bad()) throw error_at(base + filled, "read error");
            const size_t got = static_cast<size_t>(f.gcount());
            if (got == 0) break;
            filled += got;
        }
        const char c = buf[pos];
        switch (state) {
            case State::in_element: {
                // The hot loop: most bytes of a file are inside elements.
                const char* p = buf.data();
                size_t i = pos;
                for (; i < filled; ++i) {
                    const char b = p[i];
                    if (escaped) {
                        escaped = false;
                    } else if (in_string) {
                        if (b == '\\') {
                            escaped = true;
                        } else if (b == '"') {
                            in_string = false;
                            if (depth == 0) break;  // the element is a string
                        }
                    } else if (scalar) {
                        if (is_space(b) || b == ',' || b == ']') break;
                    } else if (b == '"') {
                        in_string = true;
                    } else if (b == '{' || b == '[') {
                        ++depth;
                    } else if ((b == '}' || b == ']') && --depth == 0) {
                        break;
                    }
                }
                if (i == filled) {
                    pos = filled;
                } else {
                    emit(scalar ? i : i + 1);  // a scalar ends before the byte that ends it
                }
                break;
            }
            case State::before_list:
                if (base + pos == 0 && filled >= 3 && std::memcmp(buf.data(), "\xEF\xBB\xBF", 3) == 0) {
                    pos += 3;
                } else if (is_space(c)) {
                    ++pos;
                } else if (c == '[') {
                    ++pos;
                    state = State::first_element;
                } else {
                    throw error_at(base + pos, "expected a JSON list of samples");
                }
                break;
            case State::first_element:
            case State::next_element:
                if (is_space(c)) {
                    ++pos;
                } else if (c == ']' && state == State::first_element) {
                    ++pos;
                    state = State::after_list;
                } else if (c == ']' || c == ',') {
                    throw error_at(base + pos, "unexpected " + shown(c) + "; expected an element of the list");
                } else {
                    begin_element(c);
                }
                break;
            case State::after_element:
                if (is_space(c)) {
                    ++pos;
                } else if (c == ',') {
                    ++pos;
                    state = State::next_element;
                } else if (c == ']') {
                    ++pos;
                    state = State::after_list;
                } else {
                    throw error_at(base + pos, "unexpected " + shown(c) + "; expected ',' or ']'");
                }
                break;
            case State::after_list:
                if (!is_space(c)) {
                    throw error_at(base + pos, "unexpected " + shown(c) + " after the list; expected the end of the file");
                }
                ++pos;
                break;
        }
    }

    // The end of the file.
    const uint64_t end = base + filled;
    if (state == State::in_element && scalar) emit(filled);  // a scalar may end with the file
    switch (state) {
        case State::after_list: return;
        case State::before_list: throw error_at(end, "unexpected end of file; expected a JSON list of samples");
        case State::in_element:
            throw error_at(end, std::string("unexpected end of file inside the element that starts at ") +
                                    file_line_col(path, base + start) +
                                    (in_string ? " (a string is not closed)" : " (a '{' or '[' is not closed)"));
        default: throw error_at(end, "unexpected end of file; the list is not closed with ']'");
    }
}

}  // namespace mod::data
