// Process set-up for programs built on the engine.
//
// GNU OpenMP lets idle threads spin between parallel regions by default. On a machine
// shared with other work (a data-loading thread, another process) the spinning threads
// steal the cores the working thread needs: a training step measured 3-6x slower on 2
// cores. libgomp reads OMP_WAIT_POLICY once, when it loads, so a program that wants the
// passive policy must have it in its environment before it starts.
#pragma once

namespace mod {

// When OMP_WAIT_POLICY is unset, sets it to PASSIVE and re-executes the program with the
// same arguments (returns normally if the re-exec fails). A user's explicit setting wins.
void use_passive_openmp_wait(char** argv);

// The OpenMP threads of the parallel regions that the calling thread starts, set to `threads`
// (at least 1) for the guard's lifetime and then restored. For a stretch of work beside a
// helper thread: a parallel region waits for its slowest thread, so a team as large as the
// machine loses a whole time slice whenever the helper takes one of its cores.
class ScopedOmpThreads {
public:
    explicit ScopedOmpThreads(int threads);
    ~ScopedOmpThreads();
    ScopedOmpThreads(const ScopedOmpThreads&) = delete;
    ScopedOmpThreads& operator=(const ScopedOmpThreads&) = delete;

private:
    int previous_;
};

}  // namespace mod
