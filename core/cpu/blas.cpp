#include "core/cpu/blas.h"

#include <dlfcn.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>

namespace mod::cpu {

namespace {

// Where Debian (and derivatives) put the OpenMP build of OpenBLAS, by architecture; then the
// name other distributions give it.
constexpr const char* kCandidates[] = {
    "/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0",
    "/usr/lib/aarch64-linux-gnu/openblas-openmp/libopenblas.so.0",
    "libopenblaso.so.0",
};

constexpr int kParallelOpenMP = 2;  // openblas_get_parallel(): 0 sequential, 1 pthreads, 2 OpenMP

bool cpu_supports_avx512() {
#if defined(__x86_64__)
    return __builtin_cpu_supports("avx512f");
#else
    return false;
#endif
}

// Sets OPENBLAS_CORETYPE for the library's load and puts the environment back afterwards, so
// that programs this process starts see what its user set.
class CoretypeForLoad {
public:
    explicit CoretypeForLoad(const std::string& coretype) {
        if (coretype.empty()) return;
        if (const char* old = std::getenv(kVar)) previous_ = old;
        setenv(kVar, coretype.c_str(), 1);
        set_ = true;
    }
    ~CoretypeForLoad() {
        if (!set_) return;
        if (previous_) {
            setenv(kVar, previous_->c_str(), 1);
        } else {
            unsetenv(kVar);
        }
    }
    CoretypeForLoad(const CoretypeForLoad&) = delete;
    CoretypeForLoad& operator=(const CoretypeForLoad&) = delete;

private:
    static constexpr const char* kVar = "OPENBLAS_CORETYPE";
    std::optional<std::string> previous_;
    bool set_ = false;
};

std::unique_ptr<BlasLibrary> load() {
    const char* choice = std::getenv("MOD_BLAS");
    if (choice && std::strcmp(choice, "eigen") == 0) return nullptr;
    const char* inherited = std::getenv("OPENBLAS_CORETYPE");
    const std::string coretype = openblas_coretype(std::getenv("MOD_BLAS_CORETYPE"), inherited, cpu_supports_avx512());
    std::string note;
    if (inherited && !coretype.empty() && coretype != inherited)
        note = "; OPENBLAS_CORETYPE=" + std::string(inherited) + " set aside";
    const CoretypeForLoad scope(coretype);  // the library reads it when it loads, below
    for (const char* path : kCandidates) {
        void* handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!handle) continue;
        auto parallel = reinterpret_cast<int (*)()>(dlsym(handle, "openblas_get_parallel"));
        auto corename = reinterpret_cast<char* (*)()>(dlsym(handle, "openblas_get_corename"));
        auto config = reinterpret_cast<char* (*)()>(dlsym(handle, "openblas_get_config"));
        auto lib = std::make_unique<BlasLibrary>();
        lib->sgemm = reinterpret_cast<BlasLibrary::Sgemm>(dlsym(handle, "cblas_sgemm"));
        lib->dgemm = reinterpret_cast<BlasLibrary::Dgemm>(dlsym(handle, "cblas_dgemm"));
        if (!parallel || !corename || !config || !lib->sgemm || !lib->dgemm || parallel() != kParallelOpenMP) {
            dlclose(handle);
            continue;
        }
        // Kept loaded for the life of the process, as a linked library would be.
        lib->description = std::string(config()) + " (" + corename() + " kernels" + note + ")";
        return lib;
    }
    return nullptr;
}

}  // namespace

std::string openblas_coretype(const char* forced, const char* inherited, bool cpu_has_avx512) {
    if (forced && *forced) return forced;
    if (!cpu_has_avx512) return "";
    if (inherited && *inherited) {
        std::string name(inherited);
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
        // OpenBLAS's names of cores whose kernels use AVX-512.
        for (const char* avx512_core : {"skylakex", "cooperlake", "sapphirerapids"})
            if (name == avx512_core) return "";
    }
    return "SkylakeX";
}

const BlasLibrary* blas_library() {
    static const std::unique_ptr<BlasLibrary> library = load();
    return library.get();
}

std::string gemm_backend_name() {
    const BlasLibrary* lib = blas_library();
    return lib ? lib->description : "Eigen";
}

}  // namespace mod::cpu
