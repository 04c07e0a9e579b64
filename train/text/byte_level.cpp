// bytes_to_unicode() of GPT-2 (openai/gpt-2 encoder.py): printable Latin-1 bytes map to themselves,
// the others to U+0100 onwards in byte order.
#include "text/byte_level.h"

#include "text/utf8.h"

#include <vector>

namespace mod::text {

namespace {

struct Alphabet {
    std::array<std::string, 256> chars;
    std::array<unsigned char, 256> order{};
    std::array<int, 512> byte_of{};  // code point -> byte, -1 when not in the alphabet

    Alphabet() {
        byte_of.fill(-1);
        std::array<bool, 256> printable{};
        for (int b = '!'; b <= '~'; ++b) printable[b] = true;
        for (int b = 0xA1; b <= 0xAC; ++b) printable[b] = true;
        for (int b = 0xAE; b <= 0xFF; ++b) printable[b] = true;
        int n = 0, k = 0;
        for (int b = 0; b < 256; ++b) {
            if (printable[b]) order[k++] = static_cast<unsigned char>(b);
        }
        for (int b = 0; b < 256; ++b) {
            const int cp = printable[b] ? b : 256 + n++;
            if (!printable[b]) order[k++] = static_cast<unsigned char>(b);
            chars[b] = encode_utf8(static_cast<char32_t>(cp));
            byte_of[cp] = b;
        }
    }
};

const Alphabet& alphabet() {
    static const Alphabet a;
    return a;
}

}  // namespace

const std::array<std::string, 256>& byte_chars() { return alphabet().chars; }

const std::array<unsigned char, 256>& byte_order() { return alphabet().order; }

bool byte_level_decode(std::string_view token, std::string& out) {
    const Alphabet& a = alphabet();
    size_t i = 0;
    while (i < token.size()) {
        char32_t cp = 0;
        if (!next_code_point(token, i, cp) || cp >= a.byte_of.size() || a.byte_of[cp] < 0) return false;
        out += static_cast<char>(a.byte_of[cp]);
    }
    return true;
}

}  // namespace mod::text
