// The benchmarks' timer: the median of repeated runs after one warm-up run.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

namespace mod::bench {

// Seconds: run once (page faults, thread start, packing buffers), then the median of reps runs.
inline double median_seconds(const std::function<void()>& run, int reps) {
    run();
    std::vector<double> t;
    for (int i = 0; i < reps; ++i) {
        const auto start = std::chrono::steady_clock::now();
        run();
        t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    std::nth_element(t.begin(), t.begin() + reps / 2, t.end());
    return t[reps / 2];
}

}  // namespace mod::bench
