// The counter-based generator: same seed same numbers, independent of the thread count;
// distributions have the right moments; initialisers respect their bounds.
#include <omp.h>

#include <cmath>

#include "core/random.h"
#include "testing.h"

namespace mod {
namespace {

TEST(Random, SameSeedSameNumbersAnyThreadCount) {
    const int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    Generator g1(42);
    std::vector<float> one = randn({100000}, g1).to_vector<float>();
    omp_set_num_threads(std::max(2, threads));
    Generator g2(42);
    std::vector<float> many = randn({100000}, g2).to_vector<float>();
    omp_set_num_threads(threads);
    EXPECT_EQ(one, many);
    Generator g3(43);
    EXPECT_NE(randn({100000}, g3).to_vector<float>(), one);
}

TEST(Random, KnownValuesPinTheStream) {
    // Philox4x32-10 known-answer test (Random123's kat_vectors): counter 0, key 0.
    auto r = philox4x32(0, 0, 0);
    EXPECT_EQ(r[0], 0x6627e8d5u);
    EXPECT_EQ(r[1], 0xe169c58du);
    EXPECT_EQ(r[2], 0xbc57ac4cu);
    EXPECT_EQ(r[3], 0x9b00dbd8u);
}

TEST(Random, ConsecutiveFillsDifferAndOffsetRestores) {
    Generator g(7);
    Tensor a = rand({16}, g);
    const uint64_t at = g.offset();
    Tensor b = rand({16}, g);
    EXPECT_NE(a.to_vector<float>(), b.to_vector<float>());
    g.set_offset(at);
    EXPECT_EQ(rand({16}, g).to_vector<float>(), b.to_vector<float>());
}

TEST(Random, Moments) {
    Generator g(1);
    std::vector<double> n = randn({200000}, g, DType::F64).to_vector<double>();
    double m = 0, v = 0;
    for (double x : n) m += x;
    m /= n.size();
    for (double x : n) v += (x - m) * (x - m);
    v /= n.size();
    EXPECT_NEAR(m, 0.0, 0.01);  // standard error 1/sqrt(2e5) = 0.0022
    EXPECT_NEAR(v, 1.0, 0.02);
    std::vector<double> u = rand({200000}, g, DType::F64).to_vector<double>();
    double um = 0;
    for (double x : u) {
        ASSERT_GE(x, 0.0);
        ASSERT_LT(x, 1.0);
        um += x;
    }
    EXPECT_NEAR(um / u.size(), 0.5, 0.005);
}

TEST(Random, Initialisers) {
    Generator g(3);
    Tensor w = Tensor::empty({64, 100});
    linear_uniform_(w, g);
    for (float x : w.to_vector<float>()) ASSERT_LE(std::fabs(x), 0.1f);
    xavier_uniform_(w, g);
    const float bound = std::sqrt(6.0f / 164.0f);
    for (float x : w.to_vector<float>()) ASSERT_LE(std::fabs(x), bound);
    trunc_normal_(w, 0.02, g);
    for (float x : w.to_vector<float>()) ASSERT_LE(std::fabs(x), 0.04f);
    Tensor vec = Tensor::empty({3});
    EXPECT_THROW(linear_uniform_(vec, g), ShapeError);
}

}  // namespace
}  // namespace mod
