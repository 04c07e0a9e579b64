#include "data/tokenizer_corpus.h"

#include "data/chat_template.h"
#include "data/conversation.h"

#include <algorithm>
#include <cmath>

namespace mod::data {

text::Tokenizer train_tokenizer_on(const std::vector<std::string>& files, const text::BpeTrainConfig& config,
                                   CorpusStats* stats, double min_per_sample) {
    text::WordCounter counter(config);
    const ChatTemplate chat;
    int64_t samples = 0;
    for (const std::string& file : files) {
        for_each_sample(file, SampleKind::any, LoadOptions{}, nullptr, [&](Sample&& s, const JsonElement&) {
            counter.add(apply_chat_template(s.messages, chat).text);
            if (!s.rejected.empty()) counter.add(s.rejected.back().value);
            ++samples;
        });
    }
    if (stats) *stats = {samples, counter.counts().size()};
    text::BpeTrainConfig merged = config;
    merged.min_frequency =
        std::max(config.min_frequency, static_cast<int64_t>(std::ceil(min_per_sample * static_cast<double>(samples))));
    return text::train_bpe(counter, merged);
}

}  // namespace mod::data
