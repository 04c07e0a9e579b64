// Deterministic random numbers for the world generator and the loader's shuffle.
// SplitMix64 with our own integer-only helpers: std::uniform_*_distribution differs between
// standard libraries, and the datasets must be byte-identical on every machine.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace mod::data {

class Rng {
public:
    explicit Rng(uint64_t seed) : state_(seed) {}

    // An independent stream for (seed, stream, index): scene i of a split does not depend on how
    // many numbers scene i-1 drew, so changing one task's mix leaves the other scenes alone.
    static Rng derive(uint64_t seed, uint64_t stream, uint64_t index) {
        Rng r(seed ^ 0x9e3779b97f4a7c15ULL);
        r.state_ ^= r.next() + stream * 0xbf58476d1ce4e5b9ULL;
        r.state_ ^= r.next() + index * 0x94d049bb133111ebULL;
        return r;
    }

    uint64_t next() {
        uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }

    // Uniform in [0, n), n > 0, without modulo bias (rejects the top partial block).
    uint64_t below(uint64_t n) {
        const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
        uint64_t x = next();
        while (x >= limit) x = next();
        return x % n;
    }

    // Uniform integer in [lo, hi].
    int range(int lo, int hi) { return lo + static_cast<int>(below(static_cast<uint64_t>(hi - lo + 1))); }

    // True with probability percent / 100.
    bool percent(int p) { return static_cast<int>(below(100)) < p; }

    template <class T>
    const T& pick(const std::vector<T>& v) {
        return v[below(v.size())];
    }

    // Fisher-Yates.
    template <class T>
    void shuffle(std::vector<T>& v) {
        for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[below(i)]);
    }

private:
    uint64_t state_;
};

}  // namespace mod::data
