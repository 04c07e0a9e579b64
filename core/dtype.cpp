#include "core/dtype.h"

namespace mod {

size_t dtype_size(DType dt) {
    switch (dt) {
        case DType::F32: return 4;
        case DType::F64: return 8;
        case DType::BF16: return 2;
        case DType::I32: return 4;
        case DType::I64: return 8;
        case DType::Bool: return 1;
    }
    return 0;
}

const char* dtype_name(DType dt) {
    switch (dt) {
        case DType::F32: return "float32";
        case DType::F64: return "float64";
        case DType::BF16: return "bfloat16";
        case DType::I32: return "int32";
        case DType::I64: return "int64";
        case DType::Bool: return "bool";
    }
    return "unknown";
}

bool is_floating(DType dt) { return dt == DType::F32 || dt == DType::F64 || dt == DType::BF16; }

}  // namespace mod
