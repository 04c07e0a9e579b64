// ScopedOmpThreads: the parallel regions started under the guard get its thread count (never
// below 1), and the previous count comes back when it ends.
#include <omp.h>

#include "core/runtime.h"
#include "testing.h"

namespace mod {
namespace {

int team_size() {
    int n = 0;
#pragma omp parallel
    {
#pragma omp single
        n = omp_get_num_threads();
    }
    return n;
}

TEST(Runtime, ScopedOmpThreadsSetsAndRestoresTheTeam) {
    const int before = omp_get_max_threads();
    omp_set_num_threads(3);
    {
        const ScopedOmpThreads two(2);
        EXPECT_EQ(omp_get_max_threads(), 2);
        EXPECT_EQ(team_size(), 2);
        {
            const ScopedOmpThreads none(0);  // at least one thread
            EXPECT_EQ(team_size(), 1);
        }
        EXPECT_EQ(omp_get_max_threads(), 2);
    }
    EXPECT_EQ(omp_get_max_threads(), 3);
    omp_set_num_threads(before);
}

}  // namespace
}  // namespace mod
