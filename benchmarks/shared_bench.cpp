// shared_bench: the ring shared between processes (logbuf/queue/shared.hpp,
// logbuf/channel/shared.hpp) against the in-process ring, in one run,
// contenders alternating.
//
//   throughput  random 8-1024-byte records through a 2 MiB ring, the
//               benchmarks' workload (harness/peers.hpp), consumer on one CPU:
//               1 producer: thread (in-process mpsc and spsc) vs process
//                           (shared ring in /dev/shm)
//               2 producers: threads (in-process mpsc) vs processes
//   latency     commit + notify() in one process to recv() returning in the
//               other, the receiver parked (the sender waits 1 ms between
//               records); the in-process channel beside it.
//   --count-ops=N  the producer's claim + 64 B copy + commit and the
//               consumer's drain per record, N times each, single-threaded,
//               in-process mpsc and shared ring: run it under callgrind for
//               exact instruction counts (inclusive / N per op).
//
// The clock is steady_clock (CLOCK_MONOTONIC: one clock for every process).
#include <logbuf/channel/mpsc.hpp>
#include <logbuf/channel/shared.hpp>
#include <logbuf/queue/mpsc.hpp>
#include <logbuf/queue/shared.hpp>
#include <logbuf/queue/spsc.hpp>

#include <harness/harness.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <new>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using input = bench::workload;
using bench::run_result;
using clock_type = std::chrono::steady_clock;

struct config {
    std::size_t ring_bytes = 2 << 20;
    std::uint32_t min_len = 8;
    std::uint32_t max_len = 1024;
    std::uint64_t seed = 1;
    int reps = 7;
    double seconds = 0.25;
    int latency_trials = 200;
    bool realtime = false;  // --realtime: one-producer runs at SCHED_FIFO 1
    bench::cpu_pair cpus;
    std::filesystem::path file = "/dev/shm/logbuf-shared-bench.ring";
};

constexpr int max_producers = 2;
constexpr int producer_shift = 48;  // stamp = producer << 48 | record index

// What the producers and the consumer of one run share: a MAP_SHARED page,
// so that it works between processes as between threads. Every field is
// written by one side, on a line of its own.
struct run_state {
    alignas(bench::isolation_bytes) std::atomic<int> ready{0};
    alignas(bench::isolation_bytes) std::atomic<std::int64_t> t0{0};
    struct alignas(bench::isolation_bytes) total {
        std::atomic<std::uint64_t> records{~std::uint64_t{0}};
    } totals[max_producers];
};

run_state* new_run_state() {
    void* page = ::mmap(nullptr, sizeof(run_state), PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) throw std::runtime_error("mmap of the run state failed");
    return ::new (page) run_state{};
}
void free_run_state(run_state* s) {
    ::munmap(s, sizeof(run_state));
}

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               clock_type::now().time_since_epoch())
        .count();
}

// Everyone pinned and counted in, then go. Release/acquire: a start line
// only. With --realtime, a party of a one-producer run is raised to
// SCHED_FIFO 1 once everybody is past the line (not before: a party not
// yet pinned may still need the CPU a spinning one holds), and drops back
// with realtime_done(). Two producers share one CPU, where FIFO would run
// them one after the other: those runs stay at normal priority.
bool start_line(run_state& s, int cpu, int parties, const config& cfg) {
    bench::pin_this_thread(cpu);
    s.ready.fetch_add(1, std::memory_order_acq_rel);
    while (s.ready.load(std::memory_order_acquire) < parties)
        bench::cpu_relax();
    return cfg.realtime && parties == 2 && cfg.cpus.producer != cfg.cpus.consumer &&
           bench::make_this_thread_realtime();
}
void realtime_done(bool raised) {
    if (!raised) return;
    sched_param p{};
    (void)pthread_setschedparam(pthread_self(), SCHED_OTHER, &p);
}

// A producer: whole laps of the workload for cfg.seconds, each record
// stamped with its producer and index; then its count.
template <class Producer>
void produce(Producer& tx, run_state& s, int id, int parties, const config& cfg, const input& in) {
    const bool rt = start_line(s, cfg.cpus.producer, parties, cfg);
    if (id == 0) s.t0.store(now_ns(), std::memory_order_release);
    const auto deadline = clock_type::now() + std::chrono::duration_cast<clock_type::duration>(
                                                  std::chrono::duration<double>(cfg.seconds));
    const std::uint64_t tag = static_cast<std::uint64_t>(id) << producer_shift;
    const std::uint64_t n = bench::produce_laps(in.sizes.count(), deadline, [&](std::uint64_t i) {
        const std::uint32_t len = in.sizes.size(i);
        auto claim = tx.try_claim(len);
        while (!claim) {
            bench::cpu_relax();
            claim = tx.try_claim(len);
        }
        std::byte* d = claim.data();
        const std::uint64_t stamp = tag | i;
        std::memcpy(d, &stamp, 8);
        std::memcpy(d + 8, in.payload(i) + 8, len - 8);
        claim.commit();
    });
    // Release: the count is read by the consumer, maybe in another process.
    s.totals[id].records.store(n, std::memory_order_release);
    realtime_done(rt);
}

// The consumer: drains until every producer's count has arrived, checking
// each record's stamp (per-producer order), length and last byte.
template <class Consumer>
run_result consume(Consumer& rx, run_state& s, int producers, int parties, const config& cfg,
                   const input& in) {
    const bool rt = start_line(s, cfg.cpus.consumer, parties, cfg);
    std::uint64_t next[max_producers] = {};
    std::uint64_t seen = 0, bad = 0, bytes = 0;
    for (;;) {
        const std::size_t got = rx.drain([&](std::span<const std::byte> r) {
            const std::uint64_t stamp = input::read_stamp(r.data());
            const auto p = static_cast<int>(stamp >> producer_shift);
            const std::uint64_t i = stamp & ((std::uint64_t{1} << producer_shift) - 1);
            const bool ok = p < producers && i == next[p] && r.size() == in.sizes.size(i) &&
                            (r.size() == 8 || r.back() == in.payload(i)[r.size() - 1]);
            bad += !ok;
            if (p < producers) ++next[p];
            bytes += r.size();
            ++seen;
        });
        if (got != 0) continue;
        std::uint64_t expected = 0;
        bool all = true;
        for (int p = 0; p < producers; ++p) {
            const std::uint64_t t = s.totals[p].records.load(std::memory_order_acquire);
            all = all && t != ~std::uint64_t{0};
            expected += t;
        }
        if (all && seen == expected) break;
        bench::cpu_relax();
    }
    const double seconds =
        static_cast<double>(now_ns() - s.t0.load(std::memory_order_acquire)) / 1e9;
    realtime_done(rt);
    return {seconds, seen, bytes, bad};
}

// In-process: producer threads and a consumer thread on one ring.
template <class Make>
run_result run_threads(Make make, int producers, const config& cfg, const input& in) {
    run_state* s = new_run_state();
    auto ends = make(cfg.ring_bytes);
    const int parties = producers + 1;
    run_result r;
    std::vector<std::thread> threads;
    if constexpr (std::is_copy_constructible_v<decltype(ends.first)>) {
        std::vector<decltype(ends.first)> txs(static_cast<std::size_t>(producers), ends.first);
        for (int p = 0; p < producers; ++p)
            threads.emplace_back(
                [&, p] { produce(txs[static_cast<std::size_t>(p)], *s, p, parties, cfg, in); });
        r = consume(ends.second, *s, producers, parties, cfg, in);
        for (auto& t : threads)
            t.join();
    } else {
        threads.emplace_back([&] { produce(ends.first, *s, 0, parties, cfg, in); });
        r = consume(ends.second, *s, producers, parties, cfg, in);
        threads.front().join();
    }
    free_run_state(s);
    return r;
}

// Across processes: producer processes open the ring file this process
// created and consumes.
run_result run_processes(int producers, const config& cfg, const input& in) {
    run_state* s = new_run_state();
    auto rx = logbuf::queue::shared::create(cfg.file, cfg.ring_bytes);
    const int parties = producers + 1;
    std::vector<pid_t> children;
    std::fflush(nullptr);
    for (int p = 0; p < producers; ++p) {
        const pid_t pid = ::fork();
        if (pid == 0) {
            auto tx = logbuf::queue::shared::open(cfg.file);
            produce(tx, *s, p, parties, cfg, in);
            std::_Exit(0);
        }
        children.push_back(pid);
    }
    const run_result r = consume(rx, *s, producers, parties, cfg, in);
    for (pid_t pid : children)
        while (::waitpid(pid, nullptr, 0) < 0) {
        }
    free_run_state(s);
    return r;
}

constexpr const char* row_spsc = "in-process spsc, producer thread";
constexpr const char* row_mpsc1 = "in-process mpsc, 1 producer thread";
constexpr const char* row_shared1 = "shared ring, 1 producer process";
constexpr const char* row_mpsc2 = "in-process mpsc, 2 producer threads";
constexpr const char* row_shared2 = "shared ring, 2 producer processes";
constexpr std::size_t row_width = 38;

struct contender {
    const char* name;
    std::function<run_result(const config&)> run;
};

void throughput_section(const config& cfg, const input& in, bench::results& res) {
    namespace q = logbuf::queue;
    const std::vector<contender> contenders = {
        {row_spsc, [&](const config& c) { return run_threads(q::spsc::make, 1, c, in); }},
        {row_mpsc1, [&](const config& c) { return run_threads(q::mpsc::make, 1, c, in); }},
        {row_shared1, [&](const config& c) { return run_processes(1, c, in); }},
        {row_mpsc2, [&](const config& c) { return run_threads(q::mpsc::make, 2, c, in); }},
        {row_shared2, [&](const config& c) { return run_processes(2, c, in); }},
    };
    // Which state the VM's two vCPUs are in (harness/coupling.hpp): every
    // contender here is bound by line transfers between them.
    const double rtt_before = bench::line_round_trip_ns(cfg.cpus);
    config warm = cfg;
    warm.seconds = std::min(cfg.seconds, 0.05);
    for (const auto& c : contenders)
        (void)c.run(warm);
    std::uint64_t errors = 0;
    bench::run_alternating(cfg.reps, contenders.size(), [&](std::size_t k, int) {
        const run_result r = contenders[k].run(cfg);
        bench::add_throughput(res, contenders[k].name, r);
        errors += r.errors;
    });
    std::printf(
        "\nthroughput: random %u-%u-byte records (mean %.1f B), %zu KiB ring (%s),\n"
        "producers on CPU %d, consumer on CPU %d; %d repetitions of %.2f s, alternating%s\n",
        cfg.min_len, cfg.max_len, in.sizes.mean(), cfg.ring_bytes / 1024, cfg.file.c_str(),
        cfg.cpus.producer, cfg.cpus.consumer, cfg.reps, cfg.seconds,
        cfg.realtime ? ";\none-producer runs at SCHED_FIFO 1 (--realtime)" : "");
    bench::print_table(std::cout, res, {row_spsc, row_mpsc1, row_shared1, row_mpsc2, row_shared2},
                       bench::throughput_columns(), row_width);
    std::printf("line round trip between the two CPUs: %.0f ns before, %.0f ns after\n", rtt_before,
                bench::line_round_trip_ns(cfg.cpus));
    std::printf("consumer check failures: %" PRIu64 "%s\n", errors, errors ? "  <-- BROKEN" : "");
    std::printf("ratios (GB/s, paired per repetition): median [min-max]\n");
    bench::print_ratio(std::cout, res, "shared 1 producer / in-process mpsc 1 producer",
                       row_shared1, row_mpsc1, "GB/s");
    bench::print_ratio(std::cout, res, "shared 1 producer / in-process spsc", row_shared1, row_spsc,
                       "GB/s");
    bench::print_ratio(std::cout, res, "shared 2 producers / in-process mpsc 2 producers",
                       row_shared2, row_mpsc2, "GB/s");
    bench::print_target(std::cout, "cross-process SPSC (1 producer) >= 0.9x in-process mpsc",
                        res.ratio(row_shared1, row_mpsc1, "GB/s"), 0.9, bench::at_least);
    bench::print_target(std::cout, "cross-process MPSC (2 producers) >= 0.9x in-process",
                        res.ratio(row_shared2, row_mpsc2, "GB/s"), 0.9, bench::at_least);
}

// One-way latency: the sender waits 1 ms (the receiver parks), stamps the
// time, sends 16 bytes, notify(); the receiver subtracts on recv().
template <class Sender>
void latency_pair_sender(Sender& tx, int trials) {
    for (int k = 0; k < trials; ++k) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        auto c = tx.send(16);
        if (!c) return;
        const std::int64_t t = now_ns();
        std::memcpy(c.data(), &t, 8);
        c.commit();
        tx.notify();
    }
}
template <class Receiver>
bench::histogram latency_receiver(Receiver& rx, int trials) {
    bench::histogram h;
    for (int k = 0; k < trials; ++k) {
        auto r = rx.recv();
        const std::int64_t t1 = now_ns();
        if (!r) break;
        std::int64_t t0 = 0;
        std::memcpy(&t0, r.data(), 8);
        h.record(static_cast<std::uint64_t>(std::max<std::int64_t>(t1 - t0, 0)));
    }
    return h;
}

void print_latency(const char* name, const bench::histogram& h, std::uint64_t parks) {
    const bench::latency_summary s = h.summary();
    std::printf("  %-36s n=%-5" PRIu64
                " p50 %7.1f us  p90 %7.1f us  p99 %7.1f us  max %8.1f us"
                "  parks %" PRIu64 "\n",
                name, s.count, s.p50 / 1e3, s.p90 / 1e3, s.p99 / 1e3, s.max / 1e3, parks);
}

void latency_section(const config& cfg) {
    std::printf(
        "\nwake-up latency: commit + notify() -> recv() returns, receiver parked "
        "(sender waits 1 ms per record), %d trials\n",
        cfg.latency_trials);
    {
        auto [tx, rx] = logbuf::channel::mpsc::make(1 << 16);
        std::thread t([&tx = tx, &cfg] {
            bench::pin_this_thread(cfg.cpus.producer);
            latency_pair_sender(tx, cfg.latency_trials);
        });
        bench::pin_this_thread(cfg.cpus.consumer);
        const bench::histogram h = latency_receiver(rx, cfg.latency_trials);
        t.join();
        print_latency("in-process channel (thread)", h, rx.parking().parks);
    }
    {
        auto rx = logbuf::channel::shared::create(cfg.file, 1 << 16);
        std::fflush(nullptr);
        const pid_t pid = ::fork();
        if (pid == 0) {
            bench::pin_this_thread(cfg.cpus.producer);
            auto tx = logbuf::channel::shared::open(cfg.file);
            latency_pair_sender(tx, cfg.latency_trials);
            std::_Exit(0);
        }
        bench::pin_this_thread(cfg.cpus.consumer);
        const bench::histogram h = latency_receiver(rx, cfg.latency_trials);
        while (::waitpid(pid, nullptr, 0) < 0) {
        }
        print_latency("shared channel (other process)", h, rx.parking().parks);
    }
}

// --count-ops: each path in its own non-inlined function (callgrind's
// inclusive count / N = instructions per op, ~3 of them the loop's).
template <class Producer>
bool produce_64(Producer& tx, const std::byte* src) {
    auto c = tx.try_claim(64);
    if (!c) return false;
    std::memcpy(c.data(), src, 64);
    c.commit();
    return true;
}
[[gnu::noinline]] void count_mpsc_produce(logbuf::queue::mpsc::producer& tx, const std::byte* src,
                                          std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
        bench::do_not_optimize(produce_64(tx, src));
}
[[gnu::noinline]] void count_shared_produce(logbuf::queue::shared::producer& tx,
                                            const std::byte* src, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
        bench::do_not_optimize(produce_64(tx, src));
}
[[gnu::noinline]] void count_mpsc_drain(logbuf::queue::consumer& rx, std::byte* out,
                                        std::size_t n) {
    rx.drain([out](std::span<const std::byte> r) { std::memcpy(out, r.data(), r.size()); }, n);
}
[[gnu::noinline]] void count_shared_drain(logbuf::queue::shared::consumer& rx, std::byte* out,
                                          std::size_t n) {
    rx.drain([out](std::span<const std::byte> r) { std::memcpy(out, r.data(), r.size()); }, n);
}

int count_ops(const config& cfg, std::size_t n) {
    if (n * 72 > cfg.ring_bytes) throw std::invalid_argument("--count-ops: too many for the ring");
    const auto src = bench::random_bytes(64, cfg.seed);
    std::vector<std::byte> out(64);
    auto [mtx, mrx] = logbuf::queue::mpsc::make(cfg.ring_bytes);
    auto srx = logbuf::queue::shared::create(cfg.file, cfg.ring_bytes);
    auto stx = logbuf::queue::shared::open(cfg.file);
    for (int round = 0; round < 2; ++round) {  // the first round warms pages and caches
        count_mpsc_produce(mtx, src.data(), n);
        count_mpsc_drain(mrx, out.data(), n);
        count_shared_produce(stx, src.data(), n);
        count_shared_drain(srx, out.data(), n);
    }
    std::printf("count-ops: %zu operations per function, twice (halve the inclusive count)\n", n);
    return 0;
}

int run(int argc, char** argv) {
    bench::options opt(argc, argv);
    if (opt.has("help")) {
        std::puts(
            "shared_bench [--reps=N] [--seconds=S] [--trials=N] [--file=PATH] [--quick]\n"
            "  [--producer-cpu=N --consumer-cpu=N] [--only=throughput|latency]\n"
            "  [--realtime]  one-producer throughput runs at SCHED_FIFO 1 once started\n"
            "                (root; a machine others keep busy)\n"
            "  [--count-ops=N]  hot paths N times single-threaded, for callgrind");
        return 0;
    }
    config cfg;
    const bool quick = opt.has("quick");
    cfg.reps = static_cast<int>(opt.get_int("reps", quick ? 3 : cfg.reps));
    cfg.seconds = opt.get_double("seconds", quick ? 0.1 : cfg.seconds);
    cfg.latency_trials = static_cast<int>(opt.get_int("trials", quick ? 50 : cfg.latency_trials));
    cfg.file = opt.get("file", cfg.file.string());
    cfg.cpus = bench::default_cpu_pair();
    cfg.realtime = opt.has("realtime");
    cfg.cpus.producer = static_cast<int>(opt.get_int("producer-cpu", cfg.cpus.producer));
    cfg.cpus.consumer = static_cast<int>(opt.get_int("consumer-cpu", cfg.cpus.consumer));
    const std::string only = opt.get("only", "");
    const long long count = opt.get_int("count-ops", 0);
    opt.reject_unknown();
    if (count > 0) {
        const int r = count_ops(cfg, static_cast<std::size_t>(count));
        std::error_code ignored;
        std::filesystem::remove(cfg.file, ignored);
        return r;
    }
    if (cfg.reps < 1 || cfg.latency_trials < 1) throw std::invalid_argument("bad --reps/--trials");

    std::printf("logbuf shared_bench\n");
    bench::print_machine(std::cout);
    const input in(cfg.seed, cfg.min_len, cfg.max_len);
    bench::results res;
    if (only.empty() || only == "throughput") throughput_section(cfg, in, res);
    if (only.empty() || only == "latency") latency_section(cfg);
    std::error_code ignored;
    std::filesystem::remove(cfg.file, ignored);
    std::printf("\nload at end: %.0f%% of CPU time busy in the last 0.5 s; load average %s\n",
                bench::cpu_busy_percent(), bench::load_average().c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return bench::guarded_main("shared_bench", argc, argv, run);
}
