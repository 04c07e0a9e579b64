#include "core/cpu/blas.h"

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <memory>

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

std::unique_ptr<BlasLibrary> load() {
    const char* choice = std::getenv("MOD_BLAS");
    if (choice && std::strcmp(choice, "eigen") == 0) return nullptr;
#if defined(__x86_64__)
    // Before the library loads: see blas.h. A user's own setting wins.
    if (!std::getenv("OPENBLAS_CORETYPE") && __builtin_cpu_supports("avx512f"))
        setenv("OPENBLAS_CORETYPE", "SkylakeX", 0);
#endif
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
        lib->description = std::string(config()) + " (" + corename() + " kernels)";
        return lib;
    }
    return nullptr;
}

}  // namespace

const BlasLibrary* blas_library() {
    static const std::unique_ptr<BlasLibrary> library = load();
    return library.get();
}

std::string gemm_backend_name() {
    const BlasLibrary* lib = blas_library();
    return lib ? lib->description : "Eigen";
}

}  // namespace mod::cpu
