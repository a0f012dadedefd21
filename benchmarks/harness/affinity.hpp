// harness/affinity.hpp - pinning threads to cores, and running a producer and
// a consumer on two pinned cores with a common start.
//
//   bench::cpu_pair cpus = bench::default_cpu_pair();   // first two allowed CPUs
//   bench::pin_this_thread(cpus.producer);              // single-thread benchmarks
//   bench::run_pinned_pair(cpus, [&] { produce(); }, [&] { consume(); });
//
// Linux only (sched_setaffinity); elsewhere pinning reports failure and the
// threads run wherever the scheduler puts them.
#pragma once

#include <harness/optimize.hpp>

#include <atomic>
#include <cstddef>
#include <cstdio>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
#endif

namespace bench {

// The CPUs this process may run on (respects taskset / cgroup cpusets).
inline std::vector<int> allowed_cpus() {
    std::vector<int> cpus;
#if defined(__linux__)
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        for (int c = 0; c < CPU_SETSIZE; ++c)
            if (CPU_ISSET(static_cast<std::size_t>(c), &set)) cpus.push_back(c);
    }
#endif
    if (cpus.empty()) cpus.push_back(0);
    return cpus;
}

// Pins the calling thread to one CPU. False if the OS refused.
inline bool pin_this_thread(int cpu) noexcept {
#if defined(__linux__)
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(static_cast<std::size_t>(cpu), &set);
    return pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0;
#else
    (void)cpu;
    return false;
#endif
}

// Lets the calling thread run on every allowed CPU again.
inline void unpin_this_thread() noexcept {
#if defined(__linux__)
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int c : allowed_cpus())
        CPU_SET(static_cast<std::size_t>(c), &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
#endif
}

struct cpu_pair {
    int producer = 0;
    int consumer = 1;
};

// The first two allowed CPUs: producer on the first, consumer on the second.
// With a single CPU both get it (and the report will show what that costs).
inline cpu_pair default_cpu_pair() {
    const std::vector<int> cpus = allowed_cpus();
    return {cpus[0], cpus.size() > 1 ? cpus[1] : cpus[0]};
}

// Whether run_pinned_pair raises its two threads to SCHED_FIFO priority 1
// once pinned (when the two CPUs differ and the OS allows it): on a machine
// other work keeps busy, the pair then keeps its cores for the run, but for
// the kernel's real-time throttling (50 ms of every second, by default, go
// to everything else). Off unless a benchmark's --realtime turns it on; never
// for two threads on one CPU, where a spinning FIFO thread would starve the
// other for ever.
inline bool& realtime_pairs() noexcept {
    static bool on = false;
    return on;
}

// Raises the calling thread to SCHED_FIFO 1. False if the OS refused.
inline bool make_this_thread_realtime() noexcept {
#if defined(__linux__)
    sched_param p{};
    p.sched_priority = 1;
    return pthread_setschedparam(pthread_self(), SCHED_FIFO, &p) == 0;
#else
    return false;
#endif
}

// Runs `producer` and `consumer` on two new threads pinned to `cpus`, both
// released at once when both are pinned and ready, and joins them. Each
// function does its own timing. Exceptions must not escape them.
template <class Producer, class Consumer>
void run_pinned_pair(cpu_pair cpus, Producer&& producer, Consumer&& consumer) {
    std::atomic<int> ready{0};
    const bool realtime = realtime_pairs() && cpus.producer != cpus.consumer;
    auto body = [&ready, realtime](int cpu, auto& fn) {
        if (!pin_this_thread(cpu)) std::fprintf(stderr, "bench: could not pin to CPU %d\n", cpu);
        // After pinning: the thread that creates this one (not real-time)
        // must still get a CPU to start the other.
        if (realtime && !make_this_thread_realtime())
            std::fprintf(stderr, "bench: could not raise CPU %d's thread to SCHED_FIFO\n", cpu);
        // Release/acquire: not needed for data (the caller set everything up
        // before the threads were created); it is only a start line.
        ready.fetch_add(1, std::memory_order_release);
        while (ready.load(std::memory_order_acquire) < 2)
            cpu_relax();
        fn();
    };
    std::thread c([&] { body(cpus.consumer, consumer); });
    std::thread p([&] { body(cpus.producer, producer); });
    p.join();
    c.join();
}

}  // namespace bench
