// harness/histogram.hpp - a latency histogram in timer ticks.
//
//   bench::histogram h;
//   for (...) { auto t0 = bench::start(); op(); h.record(bench::stop() - t0); }
//   bench::latency_summary s = h.summary();   // p50, p99, p99.9, p99.99, max
//
// Log-linear buckets (the HDR histogram idea): values below 128 are counted
// exactly, larger ones in buckets 1/64 of their power of two wide, so every
// reported percentile is within 1.6% of the true sample and the histogram is a
// fixed 30 KiB however many samples it takes. record() is a few instructions
// and never allocates, so it can sit inside a timed loop's bookkeeping.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace bench {

// Percentiles in ticks; `count` samples.
struct latency_summary {
    std::uint64_t count = 0;
    double min = 0, p50 = 0, p90 = 0, p99 = 0, p999 = 0, p9999 = 0, max = 0, mean = 0;
};

class histogram {
  public:
    static constexpr unsigned exact_bits = 7;  // values < 2^7 get a bucket each
    static constexpr std::uint64_t exact_limit = std::uint64_t{1} << exact_bits;
    static constexpr std::uint64_t half = exact_limit / 2;  // sub-buckets per power of two
    static constexpr std::size_t bucket_count = exact_limit + (64 - exact_bits) * half;

    void record(std::uint64_t value) noexcept {
        ++counts_[index_of(value)];
        ++count_;
        sum_ += static_cast<double>(value);
        min_ = std::min(min_, value);
        max_ = std::max(max_, value);
    }

    void merge(const histogram& other) noexcept {
        for (std::size_t i = 0; i < bucket_count; ++i)
            counts_[i] += other.counts_[i];
        count_ += other.count_;
        sum_ += other.sum_;
        min_ = std::min(min_, other.min_);
        max_ = std::max(max_, other.max_);
    }

    void reset() noexcept { *this = histogram{}; }

    [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
    [[nodiscard]] std::uint64_t min() const noexcept { return count_ ? min_ : 0; }
    [[nodiscard]] std::uint64_t max() const noexcept { return max_; }
    [[nodiscard]] double mean() const noexcept {
        return count_ ? sum_ / static_cast<double>(count_) : 0.0;
    }

    // The smallest value v such that at least q (0..1] of the samples are <= v,
    // rounded up to its bucket's top (exact below 128); the exact max for q = 1.
    [[nodiscard]] std::uint64_t percentile(double q) const noexcept {
        if (count_ == 0) return 0;
        const auto rank =
            static_cast<std::uint64_t>(std::max(1.0, std::ceil(q * static_cast<double>(count_))));
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < bucket_count; ++i) {
            seen += counts_[i];
            if (seen >= rank) return std::min(bucket_top(i), max_);
        }
        return max_;
    }

    [[nodiscard]] latency_summary summary() const noexcept {
        latency_summary s;
        s.count = count_;
        s.min = static_cast<double>(min());
        s.p50 = static_cast<double>(percentile(0.50));
        s.p90 = static_cast<double>(percentile(0.90));
        s.p99 = static_cast<double>(percentile(0.99));
        s.p999 = static_cast<double>(percentile(0.999));
        s.p9999 = static_cast<double>(percentile(0.9999));
        s.max = static_cast<double>(max_);
        s.mean = mean();
        return s;
    }

  private:
    static std::size_t index_of(std::uint64_t v) noexcept {
        if (v < exact_limit) return static_cast<std::size_t>(v);
        // v has its top bit at `msb` >= exact_bits; keep its top
        // exact_bits - 1 bits below that as the sub-bucket.
        const unsigned msb = 63u - static_cast<unsigned>(std::countl_zero(v));
        const unsigned shift = msb - (exact_bits - 1);
        return static_cast<std::size_t>(exact_limit + (shift - 1) * half + ((v >> shift) - half));
    }

    // The largest value that lands in bucket i.
    static std::uint64_t bucket_top(std::size_t i) noexcept {
        if (i < exact_limit) return i;
        const std::uint64_t j = i - exact_limit;
        const unsigned shift = static_cast<unsigned>(j / half) + 1;
        const std::uint64_t sub = (j % half) + half;
        return ((sub + 1) << shift) - 1;
    }

    std::array<std::uint64_t, bucket_count> counts_{};
    std::uint64_t count_ = 0;
    double sum_ = 0.0;
    std::uint64_t min_ = std::numeric_limits<std::uint64_t>::max();
    std::uint64_t max_ = 0;
};

}  // namespace bench
