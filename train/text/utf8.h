// UTF-8 helpers: strict validation and decoding (our own, so errors can name the byte offset), and
// NFC normalisation through utf8proc.
#pragma once

#include <string>
#include <string_view>

namespace mod::text {

// Decodes the code point at s[i] and advances i; false on an invalid sequence (overlong,
// surrogate, > U+10FFFF, truncated), leaving i unchanged.
bool next_code_point(std::string_view s, size_t& i, char32_t& cp);

// Byte offset of the first invalid sequence, or npos when s is valid UTF-8.
size_t find_invalid_utf8(std::string_view s);

std::string encode_utf8(char32_t cp);
// s with every byte that does not start a valid code point replaced by U+FFFD.
std::string replace_invalid_utf8(std::string_view s);

// Unicode NFC (canonical composition). Throws TokenizerError on invalid UTF-8.
std::string nfc(std::string_view s);

}  // namespace mod::text
