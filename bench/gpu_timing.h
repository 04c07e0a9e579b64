// Timing work queued on a CUDA device: bench/timing.h's median, each run ended by waiting
// for the device, since kernels return to the host before they finish.
#pragma once

#include <functional>

#include "bench/timing.h"
#include "cuda/memory.h"

namespace mod::bench {

inline double seconds_on_gpu(const std::function<void()>& run, int reps, int device = 0) {
    return median_seconds([&] {
        run();
        cuda::synchronize(device);
    }, reps);
}

}  // namespace mod::bench
