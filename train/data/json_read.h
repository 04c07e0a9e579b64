// Reading JSON files with errors a user can act on: "[where] path:line:col: what".
// Large files (a list of millions of samples) are streamed: each element of the top-level array is
// found by scan_json_array, parsed, handed over and dropped, so memory holds one element at a time.
#pragma once

#include "data/errors.h"
#include "data/json_array_scan.h"

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

// Parses one element found in `path` by scan_json_array (or read back from its offset); a syntax
// error throws JsonError naming the file, line and column where it is.
nlohmann::json parse_json_element(const std::string& path, const std::string& where, const JsonElement& element);

// 1-based line and column of byte offset `byte` (0-based) in a file, as "line:col".
std::string file_line_col(const std::string& path, size_t byte);

// JsonError "[where] path:line:col: what", placed at byte offset `byte` of the file.
JsonError json_error_at(const std::string& where, const std::string& path, uint64_t byte, const std::string& what);

}  // namespace mod::data
