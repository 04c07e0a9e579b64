// safetensors reading and writing; the format and the guarantees are in models/safetensors.h.
#include "models/safetensors.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <system_error>
#include <vector>

#include "autograd/grad_mode.h"

namespace mod {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "safetensors data is little-endian and is copied to and from memory as is");

namespace {

using json = nlohmann::json;

constexpr size_t kAlign = 8;                   // the data section starts at a multiple of this
constexpr size_t kConvertChunk = 1 << 20;      // bytes per read when a dtype needs conversion
constexpr size_t kMaxWrite = size_t(1) << 30;  // one write() call; Linux caps near 2 GiB

// How a dtype of the file becomes an engine dtype.
enum class Convert { None, Half, U8, I8, I16, Bool };

struct FileDType {
    const char* name;
    size_t size;  // bytes per element in the file
    DType dtype;  // the engine dtype it loads as
    Convert convert;
};

constexpr FileDType kFileDTypes[] = {
    {"F64", 8, DType::F64, Convert::None}, {"F32", 4, DType::F32, Convert::None},
    {"F16", 2, DType::F32, Convert::Half}, {"BF16", 2, DType::BF16, Convert::None},
    {"I64", 8, DType::I64, Convert::None}, {"I32", 4, DType::I32, Convert::None},
    {"I16", 2, DType::I32, Convert::I16},  {"I8", 1, DType::I32, Convert::I8},
    {"U8", 1, DType::I32, Convert::U8},    {"BOOL", 1, DType::Bool, Convert::Bool},
};

const FileDType* find_file_dtype(const std::string& name) {
    for (const FileDType& d : kFileDTypes)
        if (name == d.name) return &d;
    return nullptr;
}

const char* file_dtype_name(DType dt) {
    switch (dt) {
        case DType::F32: return "F32";
        case DType::F64: return "F64";
        case DType::BF16: return "BF16";
        case DType::I32: return "I32";
        case DType::I64: return "I64";
        case DType::Bool: return "BOOL";
    }
    return "unknown";
}

std::string errno_text() { return std::error_code(errno, std::generic_category()).message(); }

// ---------------------------------------------------------------------------------------
// Reading

[[noreturn]] void fail(const std::string& path, const std::string& what) {
    throw IOError(detail::format_error("load_safetensors", path, ": ", what));
}

struct Entry {
    std::string name;
    const FileDType* type;
    Shape shape;
    uint64_t begin, end;
};

// Element count of a header shape; fails on negative, non-integer or overflowing sizes.
uint64_t checked_numel(const std::string& path, const std::string& name, const json& shape, Shape& out) {
    if (!shape.is_array())
        fail(path, "tensor '" + name + "': \"shape\" must be an array, got " + shape.dump());
    bool has_zero = false;
    for (const json& d : shape) {
        if (!d.is_number_unsigned() ||
            d.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
            fail(path, "tensor '" + name + "': non-negative integer sizes expected in \"shape\", got " +
                           shape.dump());
        out.push_back(static_cast<int64_t>(d.get<uint64_t>()));
        has_zero = has_zero || d.get<uint64_t>() == 0;
    }
    if (has_zero) return 0;
    uint64_t numel = 1;
    for (int64_t d : out) {
        if (numel > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(d))
            fail(path,
                 "tensor '" + name + "': shape " + shape.dump() + " has more elements than a file can hold");
        numel *= static_cast<uint64_t>(d);
    }
    return numel;
}

Entry parse_entry(const std::string& path, const std::string& name, const json& value, uint64_t data_size) {
    if (!value.is_object()) fail(path, "tensor '" + name + "': an object expected, got " + value.dump());
    for (const char* key : {"dtype", "shape", "data_offsets"})
        if (!value.contains(key)) fail(path, "tensor '" + name + "': missing key \"" + key + "\"");
    const json& dtype = value.at("dtype");
    if (!dtype.is_string())
        fail(path, "tensor '" + name + "': \"dtype\" must be a string, got " + dtype.dump());
    Entry e{name, find_file_dtype(dtype.get<std::string>()), {}, 0, 0};
    if (!e.type)
        fail(path, "tensor '" + name + "': unsupported dtype '" + dtype.get<std::string>() +
                       "' (supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)");
    const uint64_t numel = checked_numel(path, name, value.at("shape"), e.shape);
    const json& offsets = value.at("data_offsets");
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned())
        fail(path, "tensor '" + name +
                       "': \"data_offsets\" must be [begin, end] of non-negative integers, got " +
                       offsets.dump());
    e.begin = offsets[0].get<uint64_t>();
    e.end = offsets[1].get<uint64_t>();
    if (e.begin > e.end)
        fail(path, "tensor '" + name + "': data_offsets " + offsets.dump() + " has begin > end");
    if (e.end > data_size)
        fail(path, "tensor '" + name + "': data_offsets " + offsets.dump() +
                       " out of range of the data section of " + std::to_string(data_size) +
                       " bytes (file truncated?)");
    if (numel > std::numeric_limits<uint64_t>::max() / e.type->size ||
        e.end - e.begin != numel * e.type->size)
        fail(path, "tensor '" + name + "': data_offsets " + offsets.dump() + " span " +
                       std::to_string(e.end - e.begin) + " bytes, expected " + std::to_string(numel) +
                       " elements of " + e.type->name + " = " + std::to_string(numel * e.type->size) +
                       " bytes for shape " + shape_str(e.shape));
    return e;
}

template <typename From, typename To>
void convert_chunk(const char* src, To* dst, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        From v;
        std::memcpy(&v, src + i * sizeof(From), sizeof(From));
        dst[i] = static_cast<To>(v);
    }
}

// Reads entry e's bytes at file offset `at` into a new tensor of the engine dtype.
Tensor read_tensor(std::ifstream& in, const std::string& path, const Entry& e, uint64_t at) {
    Tensor t = Tensor::empty(e.shape, e.type->dtype);
    const uint64_t nbytes = e.end - e.begin;
    if (nbytes == 0) return t;
    in.seekg(static_cast<std::streamoff>(at));
    auto read = [&](char* dst, uint64_t n) {
        in.read(dst, static_cast<std::streamsize>(n));
        if (!in || static_cast<uint64_t>(in.gcount()) != n)
            fail(path, "reading the data of tensor '" + e.name +
                           "' failed (file changed or truncated while reading?)");
    };
    if (e.type->convert == Convert::None) {
        read(static_cast<char*>(t.raw_data()), nbytes);
        return t;
    }
    std::vector<char> chunk(std::min<uint64_t>(nbytes, kConvertChunk));
    const size_t per_chunk = chunk.size() / e.type->size;
    size_t done = 0;
    const size_t numel = static_cast<size_t>(nbytes / e.type->size);
    while (done < numel) {
        const size_t n = std::min(per_chunk, numel - done);
        read(chunk.data(), n * e.type->size);
        switch (e.type->convert) {
            case Convert::Half: {
                float* dst = t.data<float>() + done;
                for (size_t i = 0; i < n; ++i) {
                    uint16_t h;
                    std::memcpy(&h, chunk.data() + 2 * i, 2);
                    dst[i] = half_to_float(h);
                }
                break;
            }
            case Convert::U8: convert_chunk<uint8_t>(chunk.data(), t.data<int32_t>() + done, n); break;
            case Convert::I8: convert_chunk<int8_t>(chunk.data(), t.data<int32_t>() + done, n); break;
            case Convert::I16: convert_chunk<int16_t>(chunk.data(), t.data<int32_t>() + done, n); break;
            // Any nonzero byte is true: a byte other than 0 or 1 must not reach a C++ bool.
            case Convert::Bool: {
                bool* dst = t.data<bool>() + done;
                for (size_t i = 0; i < n; ++i) dst[i] = chunk[i] != 0;
                break;
            }
            case Convert::None: break;
        }
        done += n;
    }
    return t;
}

// ---------------------------------------------------------------------------------------
// Writing

[[noreturn]] void fail_write(const std::string& path, const std::string& what) {
    throw IOError(detail::format_error("save_safetensors", path, ": ", what));
}

class FileDescriptor {
public:
    explicit FileDescriptor(int fd) : fd_(fd) {}
    ~FileDescriptor() {
        if (fd_ >= 0) ::close(fd_);
    }
    FileDescriptor(const FileDescriptor&) = delete;
    FileDescriptor& operator=(const FileDescriptor&) = delete;
    int get() const { return fd_; }
    // Closes now, reporting the error the destructor would swallow (a delayed write error).
    bool close() {
        const int fd = fd_;
        fd_ = -1;
        return ::close(fd) == 0;
    }

private:
    int fd_;
};

// Removes the temporary file unless it was renamed into place.
class TempFileGuard {
public:
    explicit TempFileGuard(std::string path) : path_(std::move(path)) {}
    ~TempFileGuard() {
        if (!committed_) ::unlink(path_.c_str());
    }
    TempFileGuard(const TempFileGuard&) = delete;
    TempFileGuard& operator=(const TempFileGuard&) = delete;
    void commit() { committed_ = true; }

private:
    std::string path_;
    bool committed_ = false;
};

void write_all(int fd, const char* data, size_t n, const std::string& path) {
    while (n > 0) {
        const ssize_t w = ::write(fd, data, std::min(n, kMaxWrite));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) fail_write(path, "write failed: " + errno_text());
        data += w;
        n -= static_cast<size_t>(w);
    }
}

}  // namespace

float half_to_float(uint16_t bits) {
    const bool negative = (bits & 0x8000u) != 0;
    const int exponent = (bits >> 10) & 0x1f;
    const int mantissa = bits & 0x3ff;
    float magnitude;
    if (exponent == 0) {
        magnitude = std::ldexp(static_cast<float>(mantissa), -24);  // zero or subnormal: m * 2^-24
    } else if (exponent == 31) {
        magnitude =
            mantissa == 0 ? std::numeric_limits<float>::infinity() : std::numeric_limits<float>::quiet_NaN();
    } else {
        magnitude = std::ldexp(static_cast<float>(mantissa + 1024), exponent - 25);  // 1.m * 2^(e-15)
    }
    return negative ? -magnitude : magnitude;
}

SafetensorsFile load_safetensors(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(path, "cannot open for reading: " + errno_text());
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
        fail(path, "a regular file expected, got a directory or device");
    in.seekg(0, std::ios::end);
    const std::streamoff end = in.tellg();
    if (end < 0) fail(path, "cannot determine the file size");
    const uint64_t file_size = static_cast<uint64_t>(end);
    in.seekg(0);
    if (file_size < 8)
        fail(path, "a file of at least 8 bytes (the header length) expected, got " +
                       std::to_string(file_size) + " bytes (truncated?)");
    unsigned char len_bytes[8];
    in.read(reinterpret_cast<char*>(len_bytes), 8);
    if (!in) fail(path, "reading the header length failed");
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
    if (header_len > file_size - 8)
        fail(path, "header length " + std::to_string(header_len) + " is larger than the " +
                       std::to_string(file_size - 8) +
                       " bytes after it (truncated, or not a safetensors file)");
    std::string text(static_cast<size_t>(header_len), '\0');
    in.read(text.data(), static_cast<std::streamsize>(header_len));
    if (!in) fail(path, "reading the header failed");

    // nlohmann keeps the last of duplicate keys silently; the callback sees every top-level key.
    std::set<std::string> seen;
    std::string duplicate;
    json header;
    try {
        header = json::parse(text, [&](int depth, json::parse_event_t event, json& parsed) {
            if (event == json::parse_event_t::key && depth == 1 &&
                !seen.insert(parsed.get<std::string>()).second && duplicate.empty())
                duplicate = parsed.get<std::string>();
            return true;
        });
    } catch (const json::exception& e) {
        fail(path, std::string("header is not valid JSON: ") + e.what());
    }
    if (!duplicate.empty()) fail(path, "duplicate tensor name '" + duplicate + "' in the header");
    if (!header.is_object())
        fail(path, "header must be a JSON object, got " + std::string(header.type_name()));

    const uint64_t data_start = 8 + header_len;
    const uint64_t data_size = file_size - data_start;
    SafetensorsFile out;
    std::vector<Entry> entries;
    for (const auto& [name, value] : header.items()) {
        if (name == "__metadata__") {
            if (!value.is_object())
                fail(path, "\"__metadata__\" must be an object of strings, got " + value.dump());
            for (const auto& [key, v] : value.items()) {
                if (!v.is_string())
                    fail(path,
                         "\"__metadata__\" values must be strings, got " + v.dump() + " for '" + key + "'");
                out.metadata.emplace(key, v.get<std::string>());
            }
            continue;
        }
        entries.push_back(parse_entry(path, name, value, data_size));
    }

    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
        return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    uint64_t covered = 0;  // end of the data used so far, in offset order
    const Entry* previous = nullptr;
    for (const Entry& e : entries) {
        if (e.begin == e.end) continue;  // empty tensors occupy no bytes
        if (previous && e.begin < covered)
            fail(path, "tensors '" + previous->name + "' and '" + e.name + "' overlap in the data section");
        covered = e.end;
        previous = &e;
    }
    if (covered != data_size)
        fail(path, "a data section of " + std::to_string(covered) +
                       " bytes (the tensors' extent) expected, got " + std::to_string(data_size) +
                       " bytes (truncated, or trailing bytes)");

    for (const Entry& e : entries)
        out.tensors.emplace(e.name, read_tensor(in, path, e, data_start + e.begin));
    return out;
}

SafetensorsFile load_safetensors(const std::string& path, DType float_dtype) {
    MOD_CHECK(is_floating(float_dtype), DTypeError, "load_safetensors", "a floating dtype expected, got ",
              dtype_name(float_dtype));
    SafetensorsFile file = load_safetensors(path);
    for (auto& entry : file.tensors)
        if (is_floating(entry.second.dtype())) entry.second = entry.second.to(float_dtype);
    return file;
}

void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
    NoGradGuard no_grad;  // contiguous() and to() of a parameter must not record a graph
    json header = json::object();
    uint64_t offset = 0;
    for (const auto& [name, t] : tensors) {
        MOD_CHECK(!name.empty() && name != "__metadata__", ValueError, "save_safetensors",
                  "tensor names other than \"\" and \"__metadata__\" expected for ", path, ", got '", name,
                  "'");
        MOD_CHECK(t.defined(), ValueError, "save_safetensors", "a defined tensor expected for '", name,
                  "' in ", path);
        const uint64_t nbytes = static_cast<uint64_t>(t.numel()) * dtype_size(t.dtype());
        header[name] = {{"dtype", file_dtype_name(t.dtype())},
                        {"shape", t.shape()},
                        {"data_offsets", {offset, offset + nbytes}}};
        offset += nbytes;
    }
    if (!metadata.empty()) header["__metadata__"] = metadata;
    std::string text = header.dump();  // keys sorted: equal inputs give equal bytes
    text.append((kAlign - (8 + text.size()) % kAlign) % kAlign, ' ');
    unsigned char len_bytes[8];
    for (int i = 0; i < 8; ++i)
        len_bytes[i] = static_cast<unsigned char>(static_cast<uint64_t>(text.size()) >> (8 * i));

    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    FileDescriptor fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (fd.get() < 0) fail_write(path, "cannot create the temporary file " + tmp + ": " + errno_text());
    TempFileGuard guard(tmp);
    write_all(fd.get(), reinterpret_cast<const char*>(len_bytes), 8, path);
    write_all(fd.get(), text.data(), text.size(), path);
    for (const auto& entry : tensors) {
        const Tensor dense = entry.second.to(Device::cpu()).contiguous();
        write_all(fd.get(), static_cast<const char*>(dense.raw_data()),
                  static_cast<size_t>(dense.numel()) * dtype_size(dense.dtype()), path);
    }
    if (::fsync(fd.get()) != 0) fail_write(path, "fsync of " + tmp + " failed: " + errno_text());
    if (!fd.close()) fail_write(path, "closing " + tmp + " failed: " + errno_text());
    if (::rename(tmp.c_str(), path.c_str()) != 0)
        fail_write(path, "renaming " + tmp + " over it failed: " + errno_text());
    guard.commit();

    // The rename is durable only once the directory entry is on disk.
    std::string dir = std::filesystem::path(path).parent_path().string();
    if (dir.empty()) dir = ".";
    FileDescriptor dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir_fd.get() < 0 || ::fsync(dir_fd.get()) != 0)
        fail_write(path, "written, but syncing its directory " + dir + " failed: " + errno_text());
}

}  // namespace mod
