// Reading JSON files with errors a user can act on: "[where] path:line:col: what".
// Large files (a list of millions of samples) are streamed: each element of the top-level array is
// handed over as soon as it is parsed and then dropped, so memory holds one element at a time.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <functional>
#include <string>

namespace mod::data {

// Parses a whole file (small files: tokenizer.json, meta.json). Throws JsonError.
nlohmann::json read_json_file(const std::string& path, const std::string& where);

// Calls on_element(element, index) for each element of the file's top-level array, in order.
// A JsonError thrown by on_element is re-thrown with the file, line and column where the element
// starts prefixed; malformed JSON throws JsonError naming the file, line and column.
void stream_json_array(const std::string& path, const std::string& where,
                       const std::function<void(nlohmann::json& element, size_t index)>& on_element);

// 1-based line and column of byte offset `byte` (0-based) in a file, as "line:col".
std::string file_line_col(const std::string& path, size_t byte);

}  // namespace mod::data
