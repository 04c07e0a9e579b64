// One sample -> token ids and labels: chat template, tokenisation, each <image> expanded to P
// positions (a block; a sample's one image is shown in every block).
// Labels are not shifted (labels[t] = ids[t] on answer tokens, kIgnore elsewhere), as in Hugging
// Face: the loss shifts them. Image positions never carry labels.
#pragma once

#include "data/chat_template.h"
#include "data/conversation.h"
#include "text/tokenizer.h"

#include <cstdint>
#include <vector>

namespace mod::data {

inline constexpr int64_t kIgnore = -100;

struct SequenceConfig {
    int64_t image_tokens = 16;  // P: positions one image occupies
    int64_t max_len = 512;      // longer sequences are cut (a cut inside an image block throws)
    ChatTemplate chat;
};

struct Sequence {
    std::vector<int64_t> ids;
    std::vector<int64_t> labels;
    int64_t image_blocks = 0;  // how many times the image is shown: one block per <image>, 0 without one
};

// Throws DataError when the sample has no answer token within max_len or an image block does not
// fit; TokenizerError on text the tokenizer cannot take.
Sequence build_sequence(const std::vector<Message>& messages, const text::Tokenizer& tok, const SequenceConfig& config);

}  // namespace mod::data
