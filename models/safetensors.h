// Checkpoints in the Hugging Face safetensors format
// (https://huggingface.co/docs/safetensors), so Qwen2, CLIP and LLaVA-style checkpoints load
// by name and ours load in Python.
//
// Layout: 8 bytes N (little-endian uint64), N bytes of a JSON header, then the data section:
//   {"<name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {"<key>": "<string value>"}}            (metadata optional)
// Offsets are in bytes from the start of the data section; data is row-major little-endian.
//
// Reading: F32, F64, BF16 (kept as bfloat16), I32, I64 and BOOL load as the same dtype; F16
// converts to float32 (exactly: every half is a float); U8, I8, I16 convert to int32. Every
// header field is validated before any data is read; a bad file throws IOError naming the
// file and the problem, never reads out of bounds. Each tensor's bytes are read straight into
// its storage (conversions go through a small chunk buffer), so a checkpoint is held once.
//
// Writing: names sorted (std::map), header padded with spaces so the data section starts at a
// multiple of 8, so equal inputs give equal bytes. The file appears atomically: written to
// "<path>.tmp.<pid>", fsynced, renamed over <path>, then the directory is fsynced; on any
// failure the temporary file is removed, <path> keeps its previous content, and IOError names
// the path.
#pragma once

#include <map>
#include <string>

#include "core/tensor.h"

namespace mod {

struct SafetensorsFile {
    std::map<std::string, Tensor> tensors;
    std::map<std::string, std::string> metadata;
};

// Writes tensors of any engine dtype as is; strided tensors are written in row-major order.
void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

SafetensorsFile load_safetensors(const std::string& path);
// Same, with every floating tensor (F16, BF16, F32, F64 in the file) converted to float_dtype;
// integer and bool tensors are unchanged. One tensor at a time is held twice while converting.
SafetensorsFile load_safetensors(const std::string& path, DType float_dtype);

// IEEE half (binary16) bits to float, exact for normals, subnormals, infinities and NaN.
float half_to_float(uint16_t bits);

}  // namespace mod
