// harness/throughput.hpp - a producer and a consumer on two pinned cores
// moving a record sequence for a fixed time, and what that run achieved.
//
//   bench::run_result r = bench::run_throughput_pair(cpus, /*seconds=*/0.25, sizes,
//       [&](std::uint64_t i) { /* produce record i: sizes.size(i) bytes, stamp i */ },
//       [&](const bench::run_length& total) {
//           std::uint64_t next = 0, bad = 0;
//           for (;;) {
//               if (/* got a record */) { bad += !ok(next); ++next; continue; }
//               if (total.done(next)) break;    // only when idle: one atomic load
//               bench::cpu_relax();
//           }
//           return bench::consumed{next, bad};
//       });
//   bench::add_throughput(results, "my queue", r);  // GB/s, Mrec/s, ns/rec, Mrec
//
// The producer runs whole laps of the sequence until the time is up (at least
// one lap), so every contender copies the same record sizes in the same
// proportions, and a run that the machine slows down gets shorter in records,
// not longer in time. The clock starts when the producer starts and stops when
// the consumer returns; it is steady_clock, because the two ends are read on
// different cores, which the timestamp counter is not guaranteed to agree on.
//
// Hygiene: produce and consume keep their counts in their own locals and
// return them once; nothing either writes per record shares a cache line
// with what the other touches (the queue under test aside).
#pragma once

#include <harness/affinity.hpp>
#include <harness/isolated.hpp>
#include <harness/record_sizes.hpp>
#include <harness/reporter.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace bench {

struct run_result {
    double seconds = 0;
    std::uint64_t records = 0;
    std::uint64_t bytes = 0;   // payload bytes
    std::uint64_t errors = 0;  // records the consumer found damaged or out of order

    [[nodiscard]] double gb_per_s() const noexcept {
        return static_cast<double>(bytes) / seconds / 1e9;
    }
    [[nodiscard]] double mrec_per_s() const noexcept {
        return static_cast<double>(records) / seconds / 1e6;
    }
    [[nodiscard]] double ns_per_record() const noexcept {
        return seconds * 1e9 / static_cast<double>(records);
    }
};

// What the consumer function returns: records seen, records that failed its check.
struct consumed {
    std::uint64_t records = 0;
    std::uint64_t errors = 0;
};

// The producer's last word: how many records it wrote, once it knows.
class run_length {
  public:
    void set(std::uint64_t n) noexcept {
        // Release/acquire: not needed for the records (the queue under test
        // publishes those); it makes `n` itself safe to read without a race.
        total_.store(n, std::memory_order_release);
    }
    // True once `consumed` records are all there will be. Call it when idle.
    [[nodiscard]] bool done(std::uint64_t consumed_so_far) const noexcept {
        return consumed_so_far == total_.load(std::memory_order_acquire);
    }

  private:
    std::atomic<std::uint64_t> total_{~std::uint64_t{0}};
};

// Calls produce(i) for i = 0, 1, ... in whole laps of `lap` until `deadline`
// (at least one lap); returns how many.
template <class Produce>
std::uint64_t produce_laps(std::uint64_t lap, std::chrono::steady_clock::time_point deadline,
                           Produce&& produce) {
    std::uint64_t i = 0;
    do {
        for (const std::uint64_t end = i + lap; i < end; ++i)
            produce(i);
    } while (std::chrono::steady_clock::now() < deadline);
    return i;
}

// One timed run: produce(i) on cpus.producer for `seconds` of whole laps of
// `sizes`, consume(run_length) on cpus.consumer until it has seen them all.
template <class Produce, class Consume>
run_result run_throughput_pair(cpu_pair cpus, double seconds, const record_sequence& sizes,
                               Produce&& produce, Consume&& consume) {
    using clock = std::chrono::steady_clock;
    // Each written by one thread (t0 by the producer, `total` once at its
    // end; t1 and `got` by the consumer, once) on lines of its own, so that
    // the consumer's idle polls of `total` share a line with nothing written.
    alignas(isolation_bytes) clock::time_point t0;
    alignas(isolation_bytes) run_length total;
    alignas(isolation_bytes) clock::time_point t1;
    alignas(isolation_bytes) consumed got;
    run_pinned_pair(
        cpus,
        [&] {
            t0 = clock::now();
            const auto deadline = t0 + std::chrono::duration_cast<clock::duration>(
                                           std::chrono::duration<double>(seconds));
            total.set(produce_laps(sizes.count(), deadline, produce));
        },
        [&] {
            got = consume(static_cast<const run_length&>(total));
            t1 = clock::now();
        });
    return {std::chrono::duration<double>(t1 - t0).count(), got.records,
            sizes.bytes_in(got.records), got.errors};
}

// The same for one thread: produce(i) on `cpu` for `seconds` (a reference
// such as memcpy).
template <class Produce>
run_result run_throughput_single(int cpu, double seconds, const record_sequence& sizes,
                                 Produce&& produce) {
    using clock = std::chrono::steady_clock;
    run_result r;
    run_pinned_pair(
        {cpu, cpu},  // the consumer side has nothing to do and returns at once
        [&] {
            const auto t0 = clock::now();
            const auto deadline = t0 + std::chrono::duration_cast<clock::duration>(
                                           std::chrono::duration<double>(seconds));
            r.records = produce_laps(sizes.count(), deadline, produce);
            r.seconds = std::chrono::duration<double>(clock::now() - t0).count();
        },
        [] {});
    r.bytes = sizes.bytes_in(r.records);
    return r;
}

// Adds one run to `row` of `res`: metrics "GB/s", "Mrec/s", "ns/rec", "Mrec".
inline void add_throughput(results& res, const std::string& row, const run_result& r) {
    res.add(row, "GB/s", r.gb_per_s());
    res.add(row, "Mrec/s", r.mrec_per_s());
    res.add(row, "ns/rec", r.ns_per_record());
    res.add(row, "Mrec", static_cast<double>(r.records) / 1e6);
}

// The columns add_throughput() fills, for print_table().
inline std::vector<column> throughput_columns() {
    return {{"GB/s", "GB/s", 2},
            {"Mrec/s", "Mrec/s", 2},
            {"ns/rec", "ns/rec", 1},
            {"Mrec", "Mrec/run", 1}};
}

}  // namespace bench
