// A scratch folder that is removed when the test ends.
#pragma once

#include <filesystem>
#include <random>
#include <string>

namespace mod::test {

class TempDir {
public:
    TempDir() {
        std::random_device rd;  // only names the folder; never feeds data
        path_ = std::filesystem::temp_directory_path() / ("llavamod-test-" + std::to_string(rd()) + std::to_string(rd()));
        std::filesystem::create_directories(path_);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    const std::filesystem::path& path() const { return path_; }
    std::string str(const std::string& rel = "") const { return (rel.empty() ? path_ : path_ / rel).string(); }

private:
    std::filesystem::path path_;
};

}  // namespace mod::test
