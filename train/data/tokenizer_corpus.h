// Training a tokenizer on LLaVA JSON files: the corpus is each sample rendered through the
// chat template, i.e. exactly the text the model will see (plus each rejected answer).
#pragma once

#include <string>
#include <vector>

#include "text/train_bpe.h"

namespace mod::data {

struct CorpusStats {
    int64_t samples = 0;
    size_t distinct_pretokens = 0;
};

// A pair is merged only if it occurs at least min_per_sample times a sample on average (and
// config.min_frequency times). The world's texts are random strings of 1-3 characters, each
// repeated in the few samples of its scene: merged whenever they recur, they filled a third of
// the vocabulary with the training set's own strings ("CDP"), which no test text shares, and the
// model had to read a text as one rare token. Its words occur hundreds of times in 13,000
// samples, those pairs fewer than 20: at one in 250 samples (52 there), texts are spelled a
// character a token and every word keeps its merges.
constexpr double kDefaultMinMergesPerSample = 0.004;

text::Tokenizer train_tokenizer_on(const std::vector<std::string>& files, const text::BpeTrainConfig& config,
                                   CorpusStats* stats = nullptr, double min_per_sample = kDefaultMinMergesPerSample);

}  // namespace mod::data
