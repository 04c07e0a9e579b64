#include "core/file_io.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace mod {

std::string read_text_file(const std::string& path, const char* op) {
    std::ifstream in(path, std::ios::binary);
    MOD_CHECK(in.good(), IOError, op, path, ": cannot open the file");
    std::ostringstream os;
    os << in.rdbuf();
    return os.str();
}

void write_file_atomic(const std::string& path, const std::string& text) {
    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << text;
        out.flush();
        if (!out) {
            std::remove(tmp.c_str());
            throw IOError(detail::format_error("write", path, ": cannot write (disk full or folder not writable?)"));
        }
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::remove(tmp.c_str());
        throw IOError(detail::format_error("write", path, ": cannot rename the temporary file into place"));
    }
}

}  // namespace mod
