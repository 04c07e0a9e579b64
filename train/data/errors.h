// Typed exceptions of the data layer (world generator, loaders, tokenizer, programs).
// They signal bad user input (files, arguments), never a bug, so nothing here asserts or aborts.
// Messages read "[where] path:line:col: what" (or "[where] sample <id>: what") so a user can jump to
// the problem; the programs catch DataError in main and print the message as one line.
#pragma once

#include <stdexcept>
#include <string>

namespace mod::data {

struct DataError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Malformed JSON, or JSON of the wrong shape (unknown role, empty conversation, ...).
struct JsonError : DataError {
    using DataError::DataError;
};

// A missing, unreadable or undecodable image.
struct ImageError : DataError {
    using DataError::DataError;
};

// A bad tokenizer.json, or text the tokenizer cannot represent.
struct TokenizerError : DataError {
    using DataError::DataError;
};

// A bad key=value command-line argument.
struct ArgError : DataError {
    using DataError::DataError;
};

}  // namespace mod::data
