// harness/timer.hpp - the cycle timer: the CPU's timestamp counter read with
// the fences that keep the timed code inside the two reads, its measured rate
// (ticks per ns), and what an empty start/stop pair costs.
//
//   const bench::tsc_info& tsc = bench::tsc();   // calibrated once, on first use
//   bench::ticks t0 = bench::start();
//   ... code under test ...
//   bench::ticks t1 = bench::stop();
//   double ns = tsc.to_ns(t1 - t0);
//
// "Cycles" in every report are timestamp-counter ticks. On current x86 the
// counter runs at a fixed rate (constant_tsc), not at the core's clock; the
// core clock is estimated separately (estimate_core_ghz) so the two can be
// compared. Other architectures fall back to the virtual counter (AArch64) or
// std::chrono::steady_clock, where one tick is one ns.
#pragma once

#include <harness/optimize.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <utility>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

namespace bench {

using ticks = std::uint64_t;

// Opens a timed region. The first lfence waits until every earlier
// instruction has completed, so none of them is counted; the second keeps
// the timed code from starting before the counter is read.
inline ticks start() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    _mm_lfence();
    const ticks t = __rdtsc();
    _mm_lfence();
    return t;
#elif defined(__aarch64__)
    ticks t;
    asm volatile("isb; mrs %0, cntvct_el0; isb" : "=r"(t) : : "memory");
    return t;
#else
    clobber_memory();
    return static_cast<ticks>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  std::chrono::steady_clock::now().time_since_epoch())
                                  .count());
#endif
}

// Closes a timed region. rdtscp waits until the timed instructions have
// executed (their stores may still sit in the store buffer - as they would in
// real use); the lfence keeps later code from starting before the read.
inline ticks stop() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    unsigned int aux;
    const ticks t = __rdtscp(&aux);
    _mm_lfence();
    return t;
#else
    return start();
#endif
}

// What the timer is and costs, measured on this machine.
struct tsc_info {
    double ticks_per_ns = 1.0;     // counter rate against steady_clock
    double overhead_min = 0.0;     // ticks of an empty start()/stop() pair: fastest
    double overhead_median = 0.0;  // ... and typical
    double granularity = 1.0;      // smallest step the counter is seen to take
    double core_ghz = 0.0;         // estimated core clock; 0 when unknown

    [[nodiscard]] double to_ns(double t) const noexcept { return t / ticks_per_ns; }
};

// Ticks per ns: counter ticks over steady_clock time across `rounds` windows
// of `window` each; the median rejects a window that a preemption distorted.
inline double measure_ticks_per_ns(std::chrono::milliseconds window = std::chrono::milliseconds(20),
                                   int rounds = 5) {
    std::vector<double> rates;
    for (int i = 0; i < rounds; ++i) {
        const auto c0 = std::chrono::steady_clock::now();
        const ticks t0 = start();
        auto c1 = c0;
        while (c1 - c0 < window)
            c1 = std::chrono::steady_clock::now();  // busy: no sleep jitter
        const ticks t1 = stop();
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(c1 - c0).count();
        rates.push_back(static_cast<double>(t1 - t0) / static_cast<double>(ns));
    }
    std::sort(rates.begin(), rates.end());
    return rates[rates.size() / 2];
}

// Cost of an empty timed region: what every per-operation sample includes on
// top of the operation itself. Returns {min, median} in ticks.
inline std::pair<double, double> measure_timer_overhead(int samples = 200000) {
    std::vector<ticks> d(static_cast<std::size_t>(samples));
    for (auto& v : d) {
        const ticks t0 = start();
        const ticks t1 = stop();
        v = t1 - t0;
    }
    std::sort(d.begin(), d.end());
    return {static_cast<double>(d.front()), static_cast<double>(d[d.size() / 2])};
}

// The smallest non-zero difference between two counter reads. Some CPUs
// (AMD Zen among them) advance the counter in steps of tens of ticks, which
// quantises every single-operation timing to multiples of the step.
inline double measure_granularity(int samples = 100000) {
#if defined(__x86_64__) || defined(__i386__)
    const auto read = [] { return static_cast<ticks>(__rdtsc()); };  // unfenced: fastest
#else
    const auto read = [] { return start(); };
#endif
    ticks best = ~ticks{0};
    ticks prev = read();
    for (int i = 0; i < samples; ++i) {
        const ticks now = read();
        if (now != prev) best = std::min(best, now - prev);
        prev = now;
    }
    return static_cast<double>(best);
}

// The core clock in GHz, from a chain of dependent adds (one cycle each on
// every x86 core of the last 20 years) timed with the counter. Turbo and a
// hypervisor make this an estimate. 0 where we have no way to tell.
inline double estimate_core_ghz(double ticks_per_ns) {
#if defined(__x86_64__)
    constexpr std::uint64_t iterations =
        20000;  // ~0.6 ms a round: short enough to fit a time slice
    constexpr std::uint64_t adds_per_iteration = 100;
    std::vector<double> rates;
    for (int round = 0; round < 15; ++round) {
        std::uint64_t x = 0;
        const ticks t0 = start();
        for (std::uint64_t i = 0; i < iterations; ++i) {
            // 100 adds, each waiting for the one before: 100 cycles a
            // round; the loop's own compare and branch run beside them.
            asm volatile(".rept 100\n\taddq $1, %0\n\t.endr" : "+r"(x));
        }
        const ticks t1 = stop();
        do_not_optimize(x);
        const double cycles = static_cast<double>(iterations * adds_per_iteration);
        rates.push_back(cycles / static_cast<double>(t1 - t0) * ticks_per_ns);
    }
    std::sort(rates.begin(), rates.end());
    return rates.back();  // the fastest round: the one least disturbed
#else
    (void)ticks_per_ns;
    return 0.0;
#endif
}

// The process-wide calibration, measured on first use (~0.2 s). Call it once
// before timing anything, so the calibration does not land in a measurement.
inline const tsc_info& tsc() {
    static const tsc_info info = [] {
        tsc_info i;
        i.ticks_per_ns = measure_ticks_per_ns();
        const auto [lo, med] = measure_timer_overhead();
        i.overhead_min = lo;
        i.overhead_median = med;
        i.granularity = measure_granularity();
        i.core_ghz = estimate_core_ghz(i.ticks_per_ns);
        return i;
    }();
    return info;
}

}  // namespace bench
