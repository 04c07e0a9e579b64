#include "data/indexed_samples.h"

#include "core/error.h"
#include "data/errors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <utility>

namespace mod::data {

namespace {

struct FileStamp {
    uint64_t size;
    int64_t mtime_ns;
};

FileStamp stamp_of(int fd, const std::string& path) {
    struct stat st {};
    MOD_CHECK(::fstat(fd, &st) == 0, IOError, "IndexedSamples", path, ": cannot stat: ", std::strerror(errno));
    const int64_t mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    return {static_cast<uint64_t>(st.st_size), mtime_ns};
}

}  // namespace

IndexedSamples::Descriptor::Descriptor(Descriptor&& other) noexcept : fd(std::exchange(other.fd, -1)) {}

IndexedSamples::Descriptor::~Descriptor() {
    if (fd >= 0) ::close(fd);
}

IndexedSamples::IndexedSamples(const std::vector<std::string>& files, SampleKind kind, LoadOptions options,
                               LoadReport* report)
    : kind_(kind), options_(std::move(options)) {
    MOD_CHECK(kind_ != SampleKind::any, ValueError, "IndexedSamples", "kind conversation or preference expected");
    files_.reserve(files.size());
    for (const std::string& path : files) {
        // Opened before the scan, so the stamp describes the bytes the scan then reads.
        File file{path, Descriptor(::open(path.c_str(), O_RDONLY | O_CLOEXEC)), records_.size(), 0, 0};
        if (file.descriptor.fd >= 0) {
            const FileStamp stamp = stamp_of(file.descriptor.fd, path);
            file.size = stamp.size;
            file.mtime_ns = stamp.mtime_ns;
        }
        // A file that cannot be opened fails in the scan with the loaders' usual message.
        for_each_sample(path, kind_, options_, report, [&](Sample&& s, const JsonElement& e) {
            if (e.bytes.size() > std::numeric_limits<uint32_t>::max() || e.index > std::numeric_limits<uint32_t>::max()) {
                throw DataError("[IndexedSamples] " + path + ": sample at byte " + std::to_string(e.offset) +
                                ": more than 4 GiB of text or 2^32 elements in one file; split the file");
            }
            records_.push_back({e.offset, static_cast<uint32_t>(e.bytes.size()), static_cast<uint32_t>(e.index)});
            any_image_ = any_image_ || !s.image.empty();
        });
        files_.push_back(std::move(file));
    }
    records_.shrink_to_fit();  // growth left up to twice the index's size
}

const IndexedSamples::File& IndexedSamples::file_of(size_t i) const {
    // The last file starting at or before record i (a file without valid samples shares its start
    // with the next one, and upper_bound passes over it).
    const auto after =
        std::upper_bound(files_.begin(), files_.end(), i, [](size_t r, const File& f) { return r < f.first; });
    return *(after - 1);
}

Sample IndexedSamples::get(size_t i) const {
    const Record& r = records_[i];
    const File& file = file_of(i);
    const FileStamp now = stamp_of(file.descriptor.fd, file.path);
    MOD_CHECK(now.size == file.size && now.mtime_ns == file.mtime_ns, IOError, "IndexedSamples", file.path,
              ": changed since it was indexed when training started; restart (resume=) to index it again");
    std::string bytes(r.length, '\0');
    for (size_t done = 0; done < r.length;) {
        const ssize_t n =
            ::pread(file.descriptor.fd, bytes.data() + done, r.length - done, static_cast<off_t>(r.offset + done));
        if (n < 0 && errno == EINTR) continue;
        MOD_CHECK(n > 0, IOError, "IndexedSamples", file.path, ": cannot read ", r.length, " bytes at byte ", r.offset,
                  n < 0 ? std::string(": ") + std::strerror(errno) : std::string(": the file is shorter"));
        done += static_cast<size_t>(n);
    }
    return sample_from_element(file.path, kind_, options_, JsonElement{r.offset, bytes, r.element});
}

}  // namespace mod::data
