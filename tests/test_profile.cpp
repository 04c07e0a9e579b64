// The op profiler: ops and backward nodes are counted by name with self times, nothing is
// recorded outside a ProfileGuard, and the rows add up to the total.
#include "core/elementwise.h"
#include "core/matmul.h"
#include "core/profile.h"
#include "core/reduce.h"
#include "testing.h"

namespace mod {
namespace {

TEST(Profile, CountsOpsAndBackwardNodesByName) {
    Tensor a = testing::leaf({8, 8}, 1), b = testing::leaf({8, 8}, 2);
    Profile p;
    {
        ProfileGuard guard(p);
        mean(matmul(a, b)).backward();  // mean = sum then a division (a mul by 1/n)
    }
    const auto& e = p.entries();
    ASSERT_TRUE(e.count("matmul"));
    EXPECT_EQ(e.at("matmul").calls, 3);  // forward, then dA and dB in backward
    EXPECT_EQ(e.at("matmul backward").calls, 1);
    EXPECT_EQ(e.at("sum").calls, 1);
    EXPECT_TRUE(e.count("mul"));
    double sum = 0;
    for (const auto& [name, entry] : e) {
        EXPECT_GE(entry.seconds, 0.0) << name;  // self time never goes negative
        sum += entry.seconds;
    }
    EXPECT_DOUBLE_EQ(sum, p.total_seconds());
    EXPECT_NE(p.table().find("matmul"), std::string::npos);
}

TEST(Profile, NothingIsRecordedWithoutAGuard) {
    Profile p;
    {
        ProfileGuard guard(p);
    }
    matmul(testing::leaf({2, 2}, 1), testing::leaf({2, 2}, 2));
    EXPECT_TRUE(p.entries().empty());
}

TEST(Profile, NestedTimersChargeSelfTimeOnly) {
    Profile p;
    {
        ProfileGuard guard(p);
        OpTimer outer("outer");
        {
            OpTimer inner("inner");
            volatile double x = 0;
            for (int i = 0; i < 2000000; ++i) x = x + 1;
        }
    }
    ASSERT_TRUE(p.entries().count("outer") && p.entries().count("inner"));
    EXPECT_LT(p.entries().at("outer").seconds, p.entries().at("inner").seconds);
}

}  // namespace
}  // namespace mod
