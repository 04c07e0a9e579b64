// Samples read from LLaVA JSON files on demand, for datasets too large to hold in memory.
// Construction streams every file once (for_each_sample), parsing and checking each sample exactly
// as load_conversations / load_preferences do, so the same samples are kept in the same order with
// the same errors and skip_bad counts; what it keeps is where each valid sample lies, 16 bytes a
// sample. get(i) reads those bytes back (pread) and parses them again.
//
// The files must not change in place while training: get() checks each file's size and modification
// time against the ones it indexed and throws IOError when they differ (replacing a file by rename
// is harmless: the open descriptor still reads the old one).
#pragma once

#include "data/sample_source.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mod::data {

class IndexedSamples final : public SampleSource {
public:
    // kind: conversation or preference. Throws JsonError as load_conversations does.
    IndexedSamples(const std::vector<std::string>& files, SampleKind kind, LoadOptions options,
                   LoadReport* report = nullptr);

    size_t size() const override { return records_.size(); }
    Sample get(size_t i) const override;
    bool preference() const override { return kind_ == SampleKind::preference; }
    bool any_image() const override { return any_image_; }
    // Memory held by the index.
    size_t index_bytes() const { return records_.capacity() * sizeof(Record); }

private:
    // Where one valid sample lies: all the memory a sample costs.
    struct Record {
        uint64_t offset;   // of its first byte in its file
        uint32_t length;   // bytes
        uint32_t element;  // its position in the file's list (names a sample without "id")
    };
    static_assert(sizeof(Record) == 16, "a sample costs 16 bytes of index");

    // A descriptor closed with its owner; read with pread, so no shared file position.
    struct Descriptor {
        int fd = -1;
        explicit Descriptor(int f) : fd(f) {}
        Descriptor(Descriptor&& other) noexcept;
        Descriptor(const Descriptor&) = delete;
        Descriptor& operator=(const Descriptor&) = delete;
        Descriptor& operator=(Descriptor&&) = delete;
        ~Descriptor();
    };

    struct File {
        std::string path;
        Descriptor descriptor;
        size_t first = 0;  // index of its first record
        uint64_t size = 0;  // as indexed
        int64_t mtime_ns = 0;
    };

    const File& file_of(size_t i) const;

    SampleKind kind_;
    LoadOptions options_;
    std::vector<File> files_;
    std::vector<Record> records_;
    bool any_image_ = false;
};

}  // namespace mod::data
