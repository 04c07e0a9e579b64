// UTF-8 decoding per RFC 3629; NFC via utf8proc_map (the returned buffer is freed by a unique_ptr).
#include "text/utf8.h"

#include "data/errors.h"

#include <utf8proc.h>

#include <cstdlib>
#include <memory>

namespace mod::text {

bool next_code_point(std::string_view s, size_t& i, char32_t& cp) {
    const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char b0 = byte(i);
    int len = 0;
    char32_t min = 0;
    if (b0 < 0x80) {
        cp = b0;
        ++i;
        return true;
    } else if ((b0 & 0xE0) == 0xC0) {
        len = 2, cp = b0 & 0x1F, min = 0x80;
    } else if ((b0 & 0xF0) == 0xE0) {
        len = 3, cp = b0 & 0x0F, min = 0x800;
    } else if ((b0 & 0xF8) == 0xF0) {
        len = 4, cp = b0 & 0x07, min = 0x10000;
    } else {
        return false;
    }
    if (i + len > s.size()) return false;
    for (int k = 1; k < len; ++k) {
        if ((byte(i + k) & 0xC0) != 0x80) return false;
        cp = (cp << 6) | (byte(i + k) & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
    return true;
}

size_t find_invalid_utf8(std::string_view s) {
    size_t i = 0;
    char32_t cp = 0;
    while (i < s.size()) {
        if (!next_code_point(s, i, cp)) return i;
    }
    return std::string_view::npos;
}

std::string encode_utf8(char32_t cp) {
    std::string out;
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
    return out;
}

std::string nfc(std::string_view s) {
    utf8proc_uint8_t* raw = nullptr;
    const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                            static_cast<utf8proc_ssize_t>(s.size()), &raw,
                                            static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
    const std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owned(raw, &std::free);
    if (n < 0) throw data::TokenizerError(std::string("[nfc] ") + utf8proc_errmsg(n));
    return std::string(reinterpret_cast<const char*>(raw), static_cast<size_t>(n));
}

std::string replace_invalid_utf8(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size();) {
        char32_t cp = 0;
        const size_t begin = i;
        if (next_code_point(s, i, cp)) {
            out.append(s.substr(begin, i - begin));
        } else {
            out += encode_utf8(0xFFFD);
            ++i;
        }
    }
    return out;
}

}  // namespace mod::text
