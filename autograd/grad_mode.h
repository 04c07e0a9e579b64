// Whether ops record the graph. A per-thread flag, like torch's: the teacher's forward runs
// under NoGradGuard on the trainer's thread without affecting a loader thread.
#pragma once

namespace mod {

class GradMode {
public:
    static bool is_enabled();
    static void set_enabled(bool enabled);
};

// RAII: disables graph recording for its scope and restores the previous mode.
class NoGradGuard {
public:
    NoGradGuard() : prev_(GradMode::is_enabled()) { GradMode::set_enabled(false); }
    ~NoGradGuard() { GradMode::set_enabled(prev_); }
    NoGradGuard(const NoGradGuard&) = delete;
    NoGradGuard& operator=(const NoGradGuard&) = delete;

private:
    bool prev_;
};

}  // namespace mod
