#include "core/runtime.h"

#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

namespace mod {

void use_short_openmp_spin(char** argv) {
    if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT")) return;
    setenv("GOMP_SPINCOUNT", "2000", 1);
    execv("/proc/self/exe", argv);
}

ScopedOmpThreads::ScopedOmpThreads(int threads) : previous_(omp_get_max_threads()) {
    omp_set_num_threads(std::max(1, threads));
}

ScopedOmpThreads::~ScopedOmpThreads() { omp_set_num_threads(previous_); }

}  // namespace mod
