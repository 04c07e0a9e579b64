// GPT-2's byte-level alphabet: each of the 256 byte values maps to one printable Unicode character,
// so BPE tokens are strings and any byte sequence (any UTF-8 text) is representable.
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace mod::text {

// The character (as UTF-8) that stands for byte b.
const std::array<std::string, 256>& byte_chars();

// Byte values in GPT-2's order (printable bytes first): the first 256 ids of a trained vocabulary.
const std::array<unsigned char, 256>& byte_order();

// Maps a byte-level token string back to its bytes; false when a character is not in the alphabet.
bool byte_level_decode(std::string_view token, std::string& out);

}  // namespace mod::text
