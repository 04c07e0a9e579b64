// Writes a JSON array one element at a time, so that a world of millions of samples never sits in
// memory. One element per line: files stay greppable and diff-able.
#pragma once

#include "data/errors.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <string>

namespace mod::data {

class JsonArrayWriter {
public:
    explicit JsonArrayWriter(const std::string& path) : path_(path), out_(path, std::ios::binary) {
        if (!out_) throw DataError("[JsonArrayWriter] " + path + ": cannot create");
        out_ << "[";
    }
    JsonArrayWriter(const JsonArrayWriter&) = delete;
    JsonArrayWriter& operator=(const JsonArrayWriter&) = delete;
    ~JsonArrayWriter() {
        if (!finished_) out_ << "\n]\n";  // best effort; finish() is the checked path
    }

    void add(const nlohmann::ordered_json& element) {
        out_ << (count_ == 0 ? "\n" : ",\n") << element.dump();
        ++count_;
    }

    // Closes the array and reports a failed write.
    void finish() {
        out_ << "\n]\n";
        out_.close();
        finished_ = true;
        if (!out_) throw DataError("[JsonArrayWriter] " + path_ + ": write failed");
    }

    int64_t count() const { return count_; }

private:
    std::string path_;
    std::ofstream out_;
    int64_t count_ = 0;
    bool finished_ = false;
};

}  // namespace mod::data
