// Process set-up for programs built on the engine.
//
// GNU OpenMP lets idle threads spin between parallel regions, by default for about 300,000
// iterations. On a machine shared with other work (a data-loading thread, another process)
// the spinning threads steal the cores the working thread needs: a training step measured
// 3-6x slower on 2 cores. Not spinning at all (OMP_WAIT_POLICY=PASSIVE) puts a thread to
// sleep after every region and wakes it through the kernel at the next, hundreds of times a
// step: the quickstart teacher's SFT ran 5-15% slower than with a spin of 2000 iterations,
// which bridges the gap between two operations and still yields the core within microseconds.
// libgomp reads its settings once, when it loads, so they must be in the environment before
// the program starts.
#pragma once

namespace mod {

// When neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT is set, sets GOMP_SPINCOUNT=2000 and
// re-executes the program with the same arguments (returns normally if the re-exec fails).
// A user's explicit setting wins.
void use_short_openmp_spin(char** argv);

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
