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

text::Tokenizer train_tokenizer_on(const std::vector<std::string>& files, const text::BpeTrainConfig& config,
                                   CorpusStats* stats = nullptr);

}  // namespace mod::data
