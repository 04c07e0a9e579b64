// safetensors: round trips of every dtype, deterministic bytes, a file from an independent
// writer (Python's standard library), every kind of bad file, and atomic writes.
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/random.h"
#include "models/safetensors.h"
#include "testing.h"

namespace mod {
namespace {

namespace fs = std::filesystem;

// A fresh directory for one test, removed with everything in it at the end.
class TempDir {
public:
    TempDir() {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        path_ =
            fs::temp_directory_path() / ("safetensors_" + std::to_string(::getpid()) + "_" + info->name());
        fs::remove_all(path_);
        fs::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
        fs::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string file(const std::string& name) const { return (path_ / name).string(); }
    const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

std::string read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary);
    out << bytes;
}

// A safetensors file from a header text and a data section; declared_len overrides N.
std::string make_file(const std::string& header, const std::string& data, int64_t declared_len = -1) {
    const uint64_t n = declared_len >= 0 ? static_cast<uint64_t>(declared_len) : header.size();
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
    return out + header + data;
}

bool same_bits(const Tensor& a, const Tensor& b) {
    return a.dtype() == b.dtype() && a.shape() == b.shape() &&
           (a.numel() == 0 ||  // an empty tensor may have no memory to compare
            std::memcmp(a.contiguous().raw_data(), b.contiguous().raw_data(),
                        static_cast<size_t>(a.numel()) * dtype_size(a.dtype())) == 0);
}

std::map<std::string, Tensor> every_dtype() {
    Generator gen(7);
    std::map<std::string, Tensor> t;
    t["f32"] = randn({2, 3}, gen);
    t["f64.transposed"] = randn({3, 4}, gen, DType::F64).transpose(0, 1);  // non-contiguous input
    t["bf16"] = randn({4}, gen).to(DType::BF16);
    t["i32"] = Tensor::from_vector<int32_t>({-3, 0, 7, 2147483647, -2147483647 - 1}, {5});
    t["i64"] = Tensor::from_vector<int64_t>({int64_t(1) << 40, -1, 0, 5}, {2, 2});
    t["mask"] = Tensor::from_vector<bool>({true, false, true}, {3});
    t["scalar"] = Tensor::scalar(2.5);
    t["empty"] = Tensor::zeros({0, 3});
    t["f32.column"] = randn({3, 3}, gen).narrow(1, 1, 1);  // a strided slice of a larger storage
    return t;
}

TEST(Safetensors, RoundTripEveryDtype) {
    TempDir dir;
    const std::string path = dir.file("model.safetensors");
    const auto tensors = every_dtype();
    const std::map<std::string, std::string> metadata{{"format", "pt"}, {"config", "{\"d\": 4}"}};
    save_safetensors(path, tensors, metadata);
    const SafetensorsFile loaded = load_safetensors(path);
    EXPECT_EQ(loaded.metadata, metadata);
    ASSERT_EQ(loaded.tensors.size(), tensors.size());
    for (const auto& [name, t] : tensors) {
        ASSERT_TRUE(loaded.tensors.count(name)) << name;
        EXPECT_TRUE(same_bits(loaded.tensors.at(name), t)) << name;
    }
}

TEST(Safetensors, LoadConvertsFloatsOnRequest) {
    TempDir dir;
    const std::string path = dir.file("model.safetensors");
    const auto tensors = every_dtype();
    save_safetensors(path, tensors);
    const SafetensorsFile loaded = load_safetensors(path, DType::F64);
    EXPECT_EQ(loaded.tensors.at("f32").dtype(), DType::F64);
    EXPECT_EQ(loaded.tensors.at("bf16").dtype(), DType::F64);
    EXPECT_EQ(loaded.tensors.at("i64").dtype(), DType::I64);
    EXPECT_EQ(loaded.tensors.at("mask").dtype(), DType::Bool);
    EXPECT_EQ(loaded.tensors.at("bf16").to_vector<double>(), tensors.at("bf16").to_vector<double>());
    EXPECT_EQ(loaded.tensors.at("f32").to_vector<double>(), tensors.at("f32").to_vector<double>());
}

TEST(Safetensors, DeterministicAlignedBytes) {
    TempDir dir;
    const auto tensors = every_dtype();
    std::map<std::string, Tensor> copies;
    for (const auto& [name, t] : tensors) copies.emplace(name, t.clone());
    save_safetensors(dir.file("a.safetensors"), tensors, {{"k", "v"}});
    save_safetensors(dir.file("b.safetensors"), copies, {{"k", "v"}});
    const std::string a = read_bytes(dir.file("a.safetensors"));
    EXPECT_EQ(a, read_bytes(dir.file("b.safetensors")));
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(a[static_cast<size_t>(i)]);
    EXPECT_EQ((8 + n) % 8, 0u);  // the data section starts aligned
    EXPECT_EQ(a[8], '{');
    // Names in sorted order, the first tensor at offset 0.
    EXPECT_NE(a.find("\"bf16\":{\"data_offsets\":[0,8],\"dtype\":\"BF16\",\"shape\":[4]}"), std::string::npos)
        << a.substr(8, n);
}

// A file written by Python's standard library only: an implementation independent of ours.
// F16 values come from struct's 'e' (IEEE half) format; every one of the 65536 half bit
// patterns is written next to Python's own float32 value of it.
const char* kPythonWriter = R"PY(
import json, struct, sys
halves = [1.0, -2.0, 65504.0, 2.0**-24, 1023 * 2.0**-24, 2.0**-14, float("inf"), float("-inf"),
          float("nan"), -0.0, 0.333251953125, 0.5]
every_half = struct.pack("<65536H", *range(65536))
every_half_as_f32 = struct.pack("<65536f", *[struct.unpack("<e", struct.pack("<H", b))[0] for b in range(65536)])
tensors = [
    ("zeta.f16", "F16", [2, 6], struct.pack("<12e", *halves)),
    ("bf16", "BF16", [5], struct.pack("<5H", 0x3F80, 0xC0A0, 0x4049, 0x0001, 0x7F80)),
    ("f32", "F32", [3], struct.pack("<3f", 1.5, -0.25, 3e38)),
    ("f64", "F64", [2], struct.pack("<2d", 0.1, -1e300)),
    ("i64", "I64", [2], struct.pack("<2q", -(2**40), 7)),
    ("i32", "I32", [1, 2], struct.pack("<2i", -5, 2147483647)),
    ("u8", "U8", [3], bytes([0, 128, 255])),
    ("i8", "I8", [2], struct.pack("<2b", -128, 127)),
    ("mask", "BOOL", [3], bytes([1, 0, 1])),
    ("scalar", "F32", [], struct.pack("<f", 42.0)),
    ("empty", "F32", [0, 4], b""),
    ("every_half", "F16", [65536], every_half),
    ("every_half_as_f32", "F32", [65536], every_half_as_f32),
]
header = {"__metadata__": {"format": "pt", "writer": "python stdlib"}}
data = b""
for name, dtype, shape, raw in tensors:
    header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
    data += raw
text = json.dumps(header).encode()
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<Q", len(text)))
    f.write(text)
    f.write(data)
)PY";

TEST(Safetensors, ReadsFileFromIndependentWriter) {
    if (std::system("python3 --version > /dev/null 2>&1") != 0)
        GTEST_SKIP() << "python3 not found: the independent writer of this test is a Python script";
    TempDir dir;
    write_bytes(dir.file("writer.py"), kPythonWriter);
    const std::string path = dir.file("from_python.safetensors");
    ASSERT_EQ(std::system(("python3 " + dir.file("writer.py") + " " + path).c_str()), 0);
    const SafetensorsFile f = load_safetensors(path);
    EXPECT_EQ(f.metadata.at("writer"), "python stdlib");

    const Tensor f16 = f.tensors.at("zeta.f16");
    EXPECT_EQ(f16.dtype(), DType::F32);
    EXPECT_EQ(f16.shape(), (Shape{2, 6}));
    const std::vector<float> h = f16.to_vector<float>();
    const float inf = std::numeric_limits<float>::infinity();
    EXPECT_EQ(h[0], 1.0f);
    EXPECT_EQ(h[1], -2.0f);
    EXPECT_EQ(h[2], 65504.0f);
    EXPECT_EQ(h[3], std::ldexp(1.0f, -24));         // smallest subnormal
    EXPECT_EQ(h[4], 1023 * std::ldexp(1.0f, -24));  // largest subnormal
    EXPECT_EQ(h[5], std::ldexp(1.0f, -14));         // smallest normal
    EXPECT_EQ(h[6], inf);
    EXPECT_EQ(h[7], -inf);
    EXPECT_TRUE(std::isnan(h[8]));
    EXPECT_TRUE(h[9] == 0.0f && std::signbit(h[9]));
    EXPECT_EQ(h[10], 0.333251953125f);
    EXPECT_EQ(h[11], 0.5f);

    const std::vector<float> every = f.tensors.at("every_half").to_vector<float>();
    const std::vector<float> python = f.tensors.at("every_half_as_f32").to_vector<float>();
    int mismatches = 0;
    for (size_t i = 0; i < every.size(); ++i) {
        const bool same = std::isnan(python[i])
                              ? std::isnan(every[i])
                              : every[i] == python[i] && std::signbit(every[i]) == std::signbit(python[i]);
        if (!same && ++mismatches <= 5)
            ADD_FAILURE() << "half bits " << i << ": got " << every[i] << ", Python says " << python[i];
    }
    EXPECT_EQ(mismatches, 0);

    const Tensor bf = f.tensors.at("bf16");
    EXPECT_EQ(bf.dtype(), DType::BF16);
    const std::vector<float> b = bf.to(DType::F32).to_vector<float>();
    EXPECT_EQ(b[0], 1.0f);
    EXPECT_EQ(b[1], -5.0f);
    EXPECT_EQ(b[2], 3.140625f);
    EXPECT_EQ(b[3], std::ldexp(1.0f, -133));  // bfloat16 subnormal
    EXPECT_EQ(b[4], inf);

    EXPECT_EQ(f.tensors.at("f32").to_vector<float>(), (std::vector<float>{1.5f, -0.25f, 3e38f}));
    EXPECT_EQ(f.tensors.at("f64").to_vector<double>(), (std::vector<double>{0.1, -1e300}));
    EXPECT_EQ(f.tensors.at("i64").to_vector<int64_t>(), (std::vector<int64_t>{-(int64_t(1) << 40), 7}));
    EXPECT_EQ(f.tensors.at("i32").shape(), (Shape{1, 2}));
    EXPECT_EQ(f.tensors.at("i32").to_vector<int32_t>(), (std::vector<int32_t>{-5, 2147483647}));
    EXPECT_EQ(f.tensors.at("u8").to_vector<int32_t>(), (std::vector<int32_t>{0, 128, 255}));
    EXPECT_EQ(f.tensors.at("i8").to_vector<int32_t>(), (std::vector<int32_t>{-128, 127}));
    EXPECT_EQ(f.tensors.at("mask").to_vector<bool>(), (std::vector<bool>{true, false, true}));
    EXPECT_EQ(f.tensors.at("scalar").shape(), Shape{});
    EXPECT_EQ(f.tensors.at("scalar").item(), 42.0);
    EXPECT_EQ(f.tensors.at("empty").shape(), (Shape{0, 4}));
}

// Loading `bytes` must throw IOError whose message names the file and contains `problem`.
void expect_bad_file(const TempDir& dir, const std::string& name, const std::string& bytes,
                     const std::string& problem) {
    const std::string path = dir.file(name);
    write_bytes(path, bytes);
    try {
        load_safetensors(path);
        ADD_FAILURE() << name << ": IOError expected";
    } catch (const IOError& e) {
        const std::string msg = e.what();
        EXPECT_EQ(msg.rfind("[load_safetensors] ", 0), 0u) << msg;
        EXPECT_NE(msg.find(path), std::string::npos) << name << ": " << msg;
        EXPECT_NE(msg.find(problem), std::string::npos) << name << ": " << msg;
    }
}

TEST(Safetensors, BadFilesRaiseClearErrors) {
    TempDir dir;
    const std::string x16 = std::string(16, '\0');
    expect_bad_file(dir, "short", "12345", "at least 8 bytes (the header length) expected, got 5 bytes");
    expect_bad_file(dir, "lying_length", make_file("{}", "", 1000),
                    "header length 1000 is larger than the 2 bytes after it");
    expect_bad_file(dir, "not_json", make_file("{not json", ""), "header is not valid JSON");
    expect_bad_file(dir, "not_object", make_file("[1, 2]", ""), "header must be a JSON object, got array");
    expect_bad_file(dir, "unknown_dtype",
                    make_file(R"({"x": {"dtype": "F8_E4M3X", "shape": [1], "data_offsets": [0, 1]}})",
                              std::string(1, '\0')),
                    "tensor 'x': unsupported dtype 'F8_E4M3X'");
    expect_bad_file(dir, "out_of_range",
                    make_file(R"({"x": {"dtype": "F32", "shape": [100], "data_offsets": [0, 400]}})", x16),
                    "tensor 'x': data_offsets [0,400] out of range of the data section of 16 bytes");
    expect_bad_file(
        dir, "offsets_vs_shape",
        make_file(R"({"x": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 12]}})",
                  std::string(12, '\0')),
        "data_offsets [0,12] span 12 bytes, expected 4 elements of F32 = 16 bytes for shape (2,2)");
    expect_bad_file(dir, "missing_key",
                    make_file(R"({"x": {"dtype": "F32", "shape": [1]}})", std::string(4, '\0')),
                    "tensor 'x': missing key \"data_offsets\"");
    expect_bad_file(
        dir, "negative_size",
        make_file(R"({"x": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", std::string(4, '\0')),
        "non-negative integer sizes expected");
    expect_bad_file(dir, "begin_after_end",
                    make_file(R"({"x": {"dtype": "F32", "shape": [0], "data_offsets": [8, 4]}})", x16),
                    "begin > end");
    expect_bad_file(dir, "overlap",
                    make_file(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},)"
                              R"( "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
                              std::string(12, '\0')),
                    "tensors 'a' and 'b' overlap");
    expect_bad_file(dir, "duplicate",
                    make_file(R"({"x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},)"
                              R"( "x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})",
                              std::string(4, '\0')),
                    "duplicate tensor name 'x'");
    expect_bad_file(dir, "trailing",
                    make_file(R"({"x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})", x16),
                    "a data section of 4 bytes (the tensors' extent) expected, got 16 bytes");
    expect_bad_file(dir, "bad_metadata", make_file(R"({"__metadata__": {"epoch": 3}})", ""),
                    "\"__metadata__\" values must be strings");

    // A valid file cut short: its last tensor now ends beyond the data section.
    const std::string good = dir.file("good.safetensors");
    save_safetensors(good, every_dtype());
    const std::string bytes = read_bytes(good);
    expect_bad_file(dir, "truncated", bytes.substr(0, bytes.size() - 3), "out of range of the data section");

    try {
        load_safetensors(dir.path().string());
        ADD_FAILURE() << "IOError expected";
    } catch (const IOError& e) {
        EXPECT_NE(std::string(e.what()).find("a regular file expected"), std::string::npos) << e.what();
    }

    const std::string missing = dir.file("does_not_exist.safetensors");
    try {
        load_safetensors(missing);
        ADD_FAILURE() << "IOError expected";
    } catch (const IOError& e) {
        EXPECT_NE(std::string(e.what()).find(missing + ": cannot open for reading"), std::string::npos)
            << e.what();
    }
}

// Names in dir that look like our temporary files.
std::vector<std::string> temp_files(const fs::path& dir) {
    std::vector<std::string> out;
    for (const auto& entry : fs::directory_iterator(dir))
        if (entry.path().filename().string().find(".tmp.") != std::string::npos)
            out.push_back(entry.path().string());
    return out;
}

TEST(Safetensors, FailedWritesLeaveThePreviousFile) {
    TempDir dir;
    const std::string path = dir.file("ckpt.safetensors");
    save_safetensors(path, {{"w", Tensor::ones({2})}});
    const std::string before = read_bytes(path);

    // A tensor that cannot be written: nothing is created, the old checkpoint stays.
    EXPECT_THROW(save_safetensors(path, {{"w", Tensor::zeros({3})}, {"broken", Tensor()}}), ValueError);
    EXPECT_EQ(read_bytes(path), before);

    // The rename fails (the target is a directory): the fully written temporary file is removed.
    const std::string target_dir = dir.file("a_directory");
    fs::create_directory(target_dir);
    try {
        save_safetensors(target_dir, {{"w", Tensor::zeros({3})}});
        ADD_FAILURE() << "IOError expected";
    } catch (const IOError& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("[save_safetensors] " + target_dir + ": renaming"), std::string::npos) << msg;
    }
    EXPECT_TRUE(fs::is_directory(target_dir));

    // The directory does not exist.
    const std::string nowhere = dir.file("missing_dir/ckpt.safetensors");
    try {
        save_safetensors(nowhere, {{"w", Tensor::zeros({3})}});
        ADD_FAILURE() << "IOError expected";
    } catch (const IOError& e) {
        EXPECT_NE(std::string(e.what()).find(nowhere + ": cannot create the temporary file"),
                  std::string::npos)
            << e.what();
    }

    // A directory without write permission (root ignores permissions, so only as a normal user).
    if (::geteuid() != 0) {
        fs::permissions(dir.path(), fs::perms::owner_write | fs::perms::group_write | fs::perms::others_write,
                        fs::perm_options::remove);
        EXPECT_THROW(save_safetensors(path, {{"w", Tensor::zeros({3})}}), IOError);
        fs::permissions(dir.path(), fs::perms::owner_write, fs::perm_options::add);
    }
    EXPECT_EQ(read_bytes(path), before);
    EXPECT_EQ(temp_files(dir.path()), std::vector<std::string>{});

    // And a successful write replaces the file.
    save_safetensors(path, {{"w", Tensor::zeros({3})}});
    EXPECT_EQ(load_safetensors(path).tensors.at("w").shape(), Shape{3});
    EXPECT_EQ(temp_files(dir.path()), std::vector<std::string>{});
}

TEST(Safetensors, HalfToFloat) {
    EXPECT_EQ(half_to_float(0x0000), 0.0f);
    EXPECT_TRUE(std::signbit(half_to_float(0x8000)));
    EXPECT_EQ(half_to_float(0x3C00), 1.0f);
    EXPECT_EQ(half_to_float(0x8001), -std::ldexp(1.0f, -24));
    EXPECT_EQ(half_to_float(0x7BFF), 65504.0f);
    EXPECT_EQ(half_to_float(0xFC00), -std::numeric_limits<float>::infinity());
    EXPECT_TRUE(std::isnan(half_to_float(0x7C01)));
}

}  // namespace
}  // namespace mod
