// An op-level profiler for benchmarks: while a ProfileGuard is alive on a thread, every
// engine op (forward), every backward node and every optimizer step on that thread adds its
// wall time to the guard's Profile, by name.
//
// Times are self times: an op that calls other ops (mean calls sum, a backward calls
// matmul) is charged only for what its callees did not take, so the rows add up to the
// profiled wall time. CUDA kernels run asynchronously, so their time would land wherever the
// host next waits: a Profile made with sync_device (a CUDA device index) waits for that
// device at the start and end of every timed op instead, which slows the step but charges
// each op its own kernels.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace mod {

struct ProfileEntry {
    double seconds = 0;  // self time
    int64_t calls = 0;
};

class Profile {
public:
    Profile() = default;
    explicit Profile(int sync_device) : sync_device_(sync_device) {}
    int sync_device() const { return sync_device_; }
    void add(const std::string& name, double seconds);
    const std::map<std::string, ProfileEntry>& entries() const { return entries_; }
    double total_seconds() const;
    // Rows sorted by time: name, calls, milliseconds, share of the total.
    std::string table(size_t max_rows = 30) const;

private:
    std::map<std::string, ProfileEntry> entries_;
    int sync_device_ = -1;
};

// Makes `profile` the calling thread's profile for its scope (guards nest: the inner wins).
class ProfileGuard {
public:
    explicit ProfileGuard(Profile& profile);
    ~ProfileGuard();
    ProfileGuard(const ProfileGuard&) = delete;
    ProfileGuard& operator=(const ProfileGuard&) = delete;

private:
    Profile* previous_;
};

// Times its scope into the thread's profile, if any; near-free when none is active.
class OpTimer {
public:
    explicit OpTimer(const char* name);
    // name + suffix, joined only while a profile is active.
    OpTimer(const std::string& name, const char* suffix);
    OpTimer(const char* name, const char* suffix);
    ~OpTimer();
    OpTimer(const OpTimer&) = delete;
    OpTimer& operator=(const OpTimer&) = delete;

private:
    void start();
    Profile* profile_;
    std::string name_;
    std::chrono::steady_clock::time_point start_;
    double child_seconds_ = 0;  // time of the timed ops called inside this one
    OpTimer* parent_ = nullptr;
};

}  // namespace mod
