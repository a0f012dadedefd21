// log_bench - logbuf::log (formats on the backend) against logbuf's spdlog
// adapter, spdlog's async logger and spdlog's synchronous logger, in one
// run, alternating.
//
//   log_bench [--reps=5] [--paced=100000] [--messages=500000] [--threads=1,2]
//             [--dir=/tmp] [--idle-seconds=2] [--count-ops=N]
//
// Every contender logs
//
//     log->info("order {} filled qty {} px {:.2f}", id, qty, px);   // u64, int, double
//
// into a basic_file_sink_mt (default pattern):
//
//   latency     one thread, one call per microsecond (paced on the TSC),
//               `--paced` calls per run; each call timed with rdtsc; the
//               table gives ticks (the unit) and ns.
//   throughput  `--messages` per thread, 1 and 2 threads, as fast as they
//               go; time from the first call until every line is in the
//               file; the file's lines are then counted.
//   idle        after the runs, a logbuf::log logger that has logged and
//               flushed: process CPU time over `--idle-seconds` of nothing
//               (only the backend threads are left), as a share of a core.
//   --count-ops=N  only N logbuf::log calls in a non-inlined function (to a
//               null sink), for callgrind:
//     valgrind --tool=callgrind --callgrind-out-file=lb.out log_bench --count-ops=100000
//     callgrind_annotate --inclusive=yes lb.out | grep count_front_end
//
// Contenders alternate within each repetition (rotated order); medians with
// min-max spreads; ratios paired per repetition. Exit 1 if a line is missing.

#include <logbuf/log.hpp>
#include <logbuf/spdlog.hpp>

#include <harness/harness.hpp>

#include <spdlog/async.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

namespace {

struct config {
    int reps = 5;
    std::uint64_t paced = 100'000;
    std::uint64_t messages = 500'000;
    std::vector<int> threads{1, 2};
    std::filesystem::path dir = std::filesystem::temp_directory_path();
    double idle_seconds = 2.0;
};

const char* const contenders[] = {"logbuf::log", "adapter", "spdlog async", "spdlog sync"};
enum contender_id : std::size_t { front_id, adapter_id, async_id, sync_id };

struct run_result {
    bench::histogram latency;  // ticks
    double seconds = 0;
    std::uint64_t lines = 0;
};

// The workload of one thread: `n` fills, paced one per `gap` ticks (0: flat out).
template <class Logger>
void fills(Logger& log, std::uint64_t seed, std::uint64_t n, bench::ticks gap,
           bench::histogram& h) {
    std::uint64_t id = 1'000'000 * seed;
    std::uint64_t x = std::uint64_t{0x9E3779B97F4A7C15} * seed;
    bench::ticks next = bench::start();
    for (std::uint64_t i = 0; i < n; ++i) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        const int qty = 100 * static_cast<int>(1 + (x & 15));
        const double px = 100.0 + static_cast<double>((x >> 8) % 10000) / 100.0;
        if (gap != 0) {
            next += gap;
            while (bench::start() < next)
                bench::cpu_relax();
        }
        const bench::ticks t0 = bench::start();
        log.info("order {} filled qty {} px {:.2f}", ++id, qty, px);
        const bench::ticks t1 = bench::stop();
        h.record(t1 - t0);
    }
}

template <class Logger, class Finish>
void drive(int threads, std::uint64_t n, bench::ticks gap, Logger& log, Finish&& finish,
           run_result& out) {
    std::vector<bench::histogram> hist(static_cast<std::size_t>(threads));
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
        pool.emplace_back([&, t] {
            // Release/acquire: a start line only.
            ready.fetch_add(1, std::memory_order_release);
            while (!go.load(std::memory_order_acquire))
                bench::cpu_relax();
            fills(log, static_cast<std::uint64_t>(t) + 1, n, gap,
                  hist[static_cast<std::size_t>(t)]);
        });
    while (ready.load(std::memory_order_acquire) < threads)
        std::this_thread::yield();
    const auto start = std::chrono::steady_clock::now();
    go.store(true, std::memory_order_release);
    for (auto& th : pool)
        th.join();
    finish();
    out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (const auto& h : hist)
        out.latency.merge(h);
}

run_result run_one(const config& cfg, std::size_t who, int threads, std::uint64_t n,
                   bench::ticks gap) {
    const auto path = cfg.dir / ("logbuf_log_bench." + std::to_string(::getpid()) + "." +
                                 std::to_string(who) + ".log");
    run_result r;
    auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path.string(), true);
    switch (who) {
        case front_id: {
            logbuf::log::logger_options o;
            o.ring_capacity = std::size_t{4} << 20;
            auto log = logbuf::log::make_logger("orders", sink, o);
            drive(
                threads, n, gap, *log, [&] { log.reset(); }, r);  // the last ref: flushes
            break;
        }
        case adapter_id: {
            logbuf::async_options o;
            o.capacity = std::size_t{4} << 20;
            o.use_registry = false;
            auto log = logbuf::make_async_logger("orders", sink, o);
            drive(
                threads, n, gap, *log,
                [&] {
                    log->flush();
                    log.reset();
                },
                r);
            break;
        }
        case async_id: {
            auto tp = std::make_shared<spdlog::details::thread_pool>(
                spdlog::details::default_async_q_size, 1U);
            auto log = std::make_shared<spdlog::async_logger>("orders", sink, tp,
                                                              spdlog::async_overflow_policy::block);
            drive(
                threads, n, gap, *log,
                [&] {
                    log.reset();  // with the pool: drains and joins
                    tp.reset();
                    sink->flush();
                },
                r);
            break;
        }
        default: {
            spdlog::logger log("orders", sink);
            drive(
                threads, n, gap, log, [&] { log.flush(); }, r);
            break;
        }
    }
    sink.reset();
    r.lines = bench::count_lines(path);
    std::filesystem::remove(path);
    return r;
}

// The hot path alone, for callgrind: one named function, N calls.
[[gnu::noinline]] void count_front_end(logbuf::log::logger& log, std::uint64_t n) {
    for (std::uint64_t i = 0; i < n; ++i)
        log.info("order {} filled qty {} px {:.2f}", i, static_cast<int>(i & 1023), 101.25);
}

int run(int argc, char** argv) {
    bench::options opt(argc, argv);
    config cfg;
    cfg.reps = static_cast<int>(opt.get_int("reps", cfg.reps));
    cfg.paced = static_cast<std::uint64_t>(opt.get_int("paced", static_cast<long long>(cfg.paced)));
    cfg.messages =
        static_cast<std::uint64_t>(opt.get_int("messages", static_cast<long long>(cfg.messages)));
    cfg.threads = bench::parse_int_list(opt.get("threads", "1,2"));
    cfg.dir = opt.get("dir", cfg.dir.string());
    cfg.idle_seconds = opt.get_double("idle-seconds", cfg.idle_seconds);
    const long long count_ops = opt.get_int("count-ops", 0);
    opt.reject_unknown();

    if (count_ops > 0) {
        auto log =
            logbuf::log::make_logger("count", std::make_shared<spdlog::sinks::null_sink_mt>(),
                                     {.ring_capacity = std::size_t{64} << 20});
        count_front_end(*log, 1);  // the thread's first call makes its ring
        count_front_end(*log, static_cast<std::uint64_t>(count_ops));
        log->flush();
        std::printf("count-ops: %lld logbuf::log calls in count_front_end\n", count_ops);
        return 0;
    }

    bench::print_machine(std::cout);
    const bench::tsc_info& tsc = bench::tsc();
    std::printf(
        "timer: rdtsc, %.3f ticks/ns, an empty start/stop costs %.0f ticks (median): "
        "included below\n\n",
        tsc.ticks_per_ns, tsc.overhead_median);
    bool lost = false, all_targets = true;
    const auto check = [&](const char* who, const run_result& r, std::uint64_t expected) {
        if (r.lines == expected) return;
        std::printf("\n  %s: %llu lines in the file, %llu logged\n", who,
                    static_cast<unsigned long long>(r.lines),
                    static_cast<unsigned long long>(expected));
        lost = true;
    };

    // Latency: one call per microsecond.
    {
        const auto gap = static_cast<bench::ticks>(tsc.ticks_per_ns * 1000.0);
        bench::results res;
        std::printf("latency, 1 thread, one call per us, %llu calls per run:",
                    static_cast<unsigned long long>(cfg.paced));
        std::fflush(stdout);
        bench::run_alternating(cfg.reps, std::size(contenders), [&](std::size_t who, int) {
            const run_result r = run_one(cfg, who, 1, cfg.paced, gap);
            const bench::latency_summary s = r.latency.summary();
            res.add(contenders[who], "p50", s.p50);
            res.add(contenders[who], "p99", s.p99);
            res.add(contenders[who], "p999", s.p999);
            res.add(contenders[who], "p50ns", tsc.to_ns(s.p50));
            res.add(contenders[who], "p999ns", tsc.to_ns(s.p999));
            check(contenders[who], r, cfg.paced);
            std::printf(" .");
            std::fflush(stdout);
        });
        std::printf("\n");
        bench::print_table(std::cout, res,
                           {contenders[0], contenders[1], contenders[2], contenders[3]},
                           {{"p50", "p50 ticks", 0},
                            {"p99", "p99 ticks", 0},
                            {"p999", "p99.9 ticks", 0},
                            {"p50ns", "p50 ns", 0},
                            {"p999ns", "p99.9 ns", 0}},
                           14, 24);
        all_targets &= bench::print_target(std::cout, "caller p50: logbuf::log / spdlog sync",
                                           res.ratio(contenders[0], "spdlog sync", "p50"), 0.15,
                                           bench::at_most);
        all_targets &= bench::print_target(std::cout, "caller p99.9: logbuf::log / spdlog async",
                                           res.ratio(contenders[0], "spdlog async", "p999"), 0.01,
                                           bench::at_most);
        std::printf("\n");
    }

    // Throughput to disk.
    for (const int threads : cfg.threads) {
        bench::results res;
        std::printf("throughput, %d thread%s x %llu messages:", threads, threads == 1 ? "" : "s",
                    static_cast<unsigned long long>(cfg.messages));
        std::fflush(stdout);
        bench::run_alternating(cfg.reps, std::size(contenders), [&](std::size_t who, int) {
            const run_result r = run_one(cfg, who, threads, cfg.messages, 0);
            const std::uint64_t expected = cfg.messages * static_cast<std::uint64_t>(threads);
            res.add(contenders[who], "Mmsg/s", static_cast<double>(expected) / r.seconds / 1e6);
            res.add(contenders[who], "p50", r.latency.summary().p50);
            check(contenders[who], r, expected);
            std::printf(" .");
            std::fflush(stdout);
        });
        std::printf("\n");
        bench::print_table(std::cout, res,
                           {contenders[0], contenders[1], contenders[2], contenders[3]},
                           {{"Mmsg/s", "M msg/s", 2}, {"p50", "p50 ticks (flat out)", 0}}, 14, 24);
        all_targets &= bench::print_target(std::cout, "throughput: logbuf::log / spdlog async",
                                           res.ratio(contenders[0], "spdlog async", "Mmsg/s"), 2.0,
                                           bench::at_least);
        std::printf("\n");
    }

    // The idle backend.
    {
        auto log =
            logbuf::log::make_logger("idle", std::make_shared<spdlog::sinks::null_sink_mt>());
        log->info("one line {}", 1);
        log->flush();
        const double cpu0 = bench::process_cpu_seconds();
        const auto t0 = std::chrono::steady_clock::now();
        std::this_thread::sleep_for(std::chrono::duration<double>(cfg.idle_seconds));
        const double wall =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const double share = (bench::process_cpu_seconds() - cpu0) / wall;
        std::printf(
            "idle: the process used %.3f%% of a core over %.1f s with only the backend "
            "threads running (target <= 1%%): %s\n\n",
            100.0 * share, wall, share <= 0.01 ? "met" : "MISSED");
        all_targets &= share <= 0.01;
    }
    std::printf("lines: %s\n", lost ? "MISSING (see above)" : "every message is in its file");
    std::printf("targets: %s\n", all_targets ? "all met" : "not all met (see above)");
    return lost ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
    return bench::guarded_main("log_bench", argc, argv, run);
}
