// Finds the elements of a file's top-level JSON array without parsing them, reading the file in
// chunks, so memory holds one chunk plus the element in progress whatever the file's size. It knows
// just enough JSON to see where each element ends (strings with their escapes, bracket depth) and
// checks the list around the elements; what is inside an element is left to the JSON parser
// (json_read.h parse_json_element), which reports its errors at their place in the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace mod::data {

// One element of the top-level array.
struct JsonElement {
    uint64_t offset = 0;     // file offset of its first byte
    std::string_view bytes;  // the element's text; valid only during the call that hands it over
    size_t index = 0;        // its position in the array
};

// Calls on_element for each element of the file's top-level array, in order. Throws JsonError
// "[where] path:line:col: what" when the file is not a list or ends before the list does, and
// "[where] path: cannot open" when it cannot be read.
void scan_json_array(const std::string& path, const std::string& where,
                     const std::function<void(const JsonElement& element)>& on_element);

}  // namespace mod::data
