// Whole-file reads and atomic writes, shared by configs, checkpoints and run state.
#pragma once

#include <string>

namespace mod {

// The file's bytes; IOError "[op] path: cannot open the file" when it cannot be read.
std::string read_text_file(const std::string& path, const char* op = "read");

// Writes text to path through a temporary file in the same folder and a rename, so a crash
// never leaves a half-written file under the real name. IOError naming the path on failure.
void write_file_atomic(const std::string& path, const std::string& text);

}  // namespace mod
