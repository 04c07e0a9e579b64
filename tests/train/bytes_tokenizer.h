// The data tests' tokenizer: 256 byte tokens + <|endoftext|> (256), <image> (257) and
// <|pad|> (258), no merges, so every sample fits and every expected id is one byte.
#pragma once

#include "text/train_bpe.h"

namespace mod::test {

inline text::Tokenizer bytes_tokenizer() {
    text::BpeTrainConfig c;
    c.vocab_size = 259;
    return text::train_bpe(text::WordCounter(c), c);
}

}  // namespace mod::test
