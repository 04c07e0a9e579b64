// PCRE2 with PCRE2_UTF | PCRE2_UCP: \s, \p{L}, \p{N} follow Unicode, as the Oniguruma regexes of
// Hugging Face tokenizers do. JIT-compiled when the library supports it (Debian's does).
#define PCRE2_CODE_UNIT_WIDTH 8
#include "text/pretokenizer.h"

#include "data/errors.h"

#include <pcre2.h>

namespace mod::text {

namespace {

struct MatchDataDeleter {
    void operator()(pcre2_match_data* m) const { pcre2_match_data_free(m); }
};

}  // namespace

void Pretokenizer::CodeDeleter::operator()(pcre2_real_code_8* code) const { pcre2_code_free(code); }

Pretokenizer::Pretokenizer(const std::string& pattern) : pattern_(pattern) {
    int error = 0;
    PCRE2_SIZE offset = 0;
    code_.reset(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.c_str()), pattern.size(), PCRE2_UTF | PCRE2_UCP,
                              &error, &offset, nullptr));
    if (!code_) {
        PCRE2_UCHAR message[256];
        pcre2_get_error_message(error, message, sizeof message);
        throw data::TokenizerError("[Pretokenizer] bad pattern at offset " + std::to_string(offset) + ": " +
                                   reinterpret_cast<const char*>(message));
    }
    pcre2_jit_compile(code_.get(), PCRE2_JIT_COMPLETE);  // falls back to the interpreter on failure
}

void Pretokenizer::split(std::string_view text, std::vector<std::pair<size_t, size_t>>& pieces) const {
    const std::unique_ptr<pcre2_match_data, MatchDataDeleter> match(pcre2_match_data_create_from_pattern(code_.get(), nullptr));
    const auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    // PCRE2_NOTEMPTY: an empty match would make no piece anyway (the Qwen2 and GPT-2 patterns never
    // match empty). PCRE2_NO_UTF_CHECK: the caller validated the text once.
    const uint32_t options = PCRE2_NOTEMPTY | PCRE2_NO_UTF_CHECK;
    size_t pos = 0;
    while (pos < text.size()) {
        const int rc = pcre2_match(code_.get(), subject, text.size(), pos, options, match.get(), nullptr);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
            PCRE2_UCHAR message[256];
            pcre2_get_error_message(rc, message, sizeof message);
            throw data::TokenizerError(std::string("[Pretokenizer] match failed: ") + reinterpret_cast<const char*>(message));
        }
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(match.get());
        if (ov[0] > pos) pieces.push_back({pos, ov[0]});
        pieces.push_back({ov[0], ov[1]});
        pos = ov[1];
    }
    if (pos < text.size()) pieces.push_back({pos, text.size()});
}

}  // namespace mod::text
