// harness/coupling.hpp - how tightly the two benchmark cores are coupled right
// now: the round trip of one cache line between them.
//
//   double ns = bench::line_round_trip_ns(cpus);   // median of a few batches
//
// On a VM the host may move the two vCPUs (onto SMT siblings, another core of
// the same cache complex, another complex) while a benchmark runs; every
// cross-core contender then speeds up or slows down together, by up to 4x
// here. Measured before each throughput run, it tells which state that run
// saw, so that a report can say so instead of averaging two machines.
#pragma once

#include <harness/affinity.hpp>
#include <harness/isolated.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <vector>

namespace bench {

// Median over `batches` of (time for `trips` ping-pong round trips) / trips, in
// ns: the producer CPU writes a line and waits for the consumer CPU's answer
// on another line.
inline double line_round_trip_ns(cpu_pair cpus, int trips = 500, int batches = 5) {
    struct alignas(isolation_bytes) line {
        std::atomic<std::uint64_t> value{0};
    };
    line ping, pong;
    std::vector<double> per_trip;
    const auto total = static_cast<std::uint64_t>(trips) * static_cast<std::uint64_t>(batches);
    run_pinned_pair(
        cpus,
        [&] {
            using clock = std::chrono::steady_clock;
            std::uint64_t n = 0;
            for (int b = 0; b < batches; ++b) {
                const auto t0 = clock::now();
                for (int t = 0; t < trips; ++t) {
                    ++n;
                    // Release/acquire: only the values travel; they order nothing else.
                    ping.value.store(n, std::memory_order_release);
                    while (pong.value.load(std::memory_order_acquire) != n) {
                        // no pause: it would add its own latency to the trip
                    }
                }
                per_trip.push_back(
                    std::chrono::duration<double, std::nano>(clock::now() - t0).count() / trips);
            }
        },
        [&] {
            for (std::uint64_t n = 1; n <= total; ++n) {
                while (ping.value.load(std::memory_order_acquire) != n) {
                }
                pong.value.store(n, std::memory_order_release);
            }
        });
    std::sort(per_trip.begin(), per_trip.end());
    return per_trip[per_trip.size() / 2];
}

}  // namespace bench
