// harness/record_sizes.hpp - reproducible random record sizes and payload
// bytes, so every contender in a run copies exactly the same sequence.
//
//   bench::record_sequence seq(1 << 16, 8, 1024, /*seed=*/42);
//   for (std::uint64_t i = 0; ...; ++i) { std::uint32_t len = seq.size(i); ... }
//   std::vector<std::byte> src = bench::random_bytes(64 * 1024 + 1024, 42);
//
// The generator is our own splitmix64 and the mapping to a range a plain
// modulo (bias below 1e-15 for these ranges), not <random>'s distributions,
// whose output differs between standard libraries: the same seed gives the
// same sizes under libstdc++ and libc++.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace bench {

// splitmix64 (Steele, Lea, Flood 2014): tiny, fast, and good enough to draw
// benchmark inputs.
class splitmix64 {
  public:
    explicit splitmix64(std::uint64_t seed) noexcept : state_(seed) {}
    std::uint64_t operator()() noexcept {
        std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    // Uniform in [lo, hi].
    std::uint64_t between(std::uint64_t lo, std::uint64_t hi) noexcept {
        return lo + (*this)() % (hi - lo + 1);
    }

  private:
    std::uint64_t state_;
};

// A cyclic sequence of `count` (a power of two) record sizes drawn uniformly
// from [min, max]. Record i has size(i) = sizes[i mod count]; one lap of the
// sequence carries lap_bytes() payload bytes.
class record_sequence {
  public:
    record_sequence(std::size_t count, std::uint32_t min, std::uint32_t max, std::uint64_t seed)
        : sizes_(count), mask_(count - 1) {
        if (count == 0 || !std::has_single_bit(count) || min == 0 || min > max)
            throw std::invalid_argument(
                "record_sequence: count must be a power of two, 0 < min <= max");
        splitmix64 rng(seed);
        for (auto& s : sizes_) {
            s = static_cast<std::uint32_t>(rng.between(min, max));
            lap_bytes_ += s;
        }
        min_ = min;
        max_ = max;
    }

    [[nodiscard]] std::uint32_t size(std::uint64_t i) const noexcept { return sizes_[i & mask_]; }
    [[nodiscard]] std::size_t count() const noexcept { return sizes_.size(); }
    [[nodiscard]] std::uint64_t lap_bytes() const noexcept { return lap_bytes_; }
    [[nodiscard]] double mean() const noexcept {
        return static_cast<double>(lap_bytes_) / static_cast<double>(sizes_.size());
    }
    [[nodiscard]] std::uint32_t min() const noexcept { return min_; }
    [[nodiscard]] std::uint32_t max() const noexcept { return max_; }
    // Payload bytes in records [0, n).
    [[nodiscard]] std::uint64_t bytes_in(std::uint64_t n) const noexcept {
        std::uint64_t b = (n / sizes_.size()) * lap_bytes_;
        for (std::uint64_t i = 0; i < n % sizes_.size(); ++i)
            b += sizes_[i];
        return b;
    }

  private:
    std::vector<std::uint32_t> sizes_;
    std::uint64_t mask_;
    std::uint64_t lap_bytes_ = 0;
    std::uint32_t min_ = 0, max_ = 0;
};

// `n` pseudo-random bytes: payload to copy from (not zeros, so no path can
// shortcut on them).
inline std::vector<std::byte> random_bytes(std::size_t n, std::uint64_t seed) {
    std::vector<std::byte> v(n);
    splitmix64 rng(seed);
    for (auto& b : v)
        b = static_cast<std::byte>(rng() >> 56);
    return v;
}

}  // namespace bench
