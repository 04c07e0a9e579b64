// Labels come from byte offsets: a token is labelled when it starts inside an answer span of the
// templated text. Encoding the whole text at once gives exactly the ids the model sees at inference.
#include "data/sequence.h"

#include "data/errors.h"
#include "text/utf8.h"

namespace mod::data {

Sequence build_sequence(const std::vector<Message>& messages, const text::Tokenizer& tok, const SequenceConfig& config) {
    // NFC first (when the tokenizer asks for it), so that token offsets match the template's spans.
    std::vector<Message> normalized = messages;
    if (tok.normalizes_nfc()) {
        for (Message& m : normalized) m.value = text::nfc(m.value);
    }
    const TemplatedText templated = apply_chat_template(normalized, config.chat);
    const int32_t image_id = tok.token_id(text::kImageToken);

    Sequence seq;
    int64_t last_block = -1;
    size_t span = 0;
    for (const text::TokenSpan& t : tok.encode_with_offsets(templated.text)) {
        while (span < templated.answer_spans.size() && t.begin >= templated.answer_spans[span].second) ++span;
        if (t.id == image_id && image_id >= 0) {
            last_block = static_cast<int64_t>(seq.ids.size());
            ++seq.image_blocks;
            seq.ids.insert(seq.ids.end(), config.image_tokens, image_id);
            seq.labels.insert(seq.labels.end(), config.image_tokens, kIgnore);
            continue;
        }
        const bool answer = span < templated.answer_spans.size() && t.begin >= templated.answer_spans[span].first;
        seq.ids.push_back(t.id);
        seq.labels.push_back(answer ? t.id : kIgnore);
    }
    if (config.max_len > 0 && static_cast<int64_t>(seq.ids.size()) > config.max_len) {
        if (last_block >= 0 && last_block + config.image_tokens > config.max_len) {
            throw DataError("[build_sequence] an image block ends after max_len=" + std::to_string(config.max_len));
        }
        seq.ids.resize(config.max_len);
        seq.labels.resize(config.max_len);
    }
    bool any_label = false;
    for (int64_t l : seq.labels) any_label = any_label || l != kIgnore;
    if (!any_label) throw DataError("[build_sequence] no answer token within max_len=" + std::to_string(config.max_len));
    return seq;
}

}  // namespace mod::data
