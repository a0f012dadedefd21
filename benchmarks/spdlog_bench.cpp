// spdlog_bench - logbuf's spdlog backend against spdlog's own loggers, in one
// run, side by side.
//
//   spdlog_bench [--reps=5] [--messages=200000] [--threads=1,2] [--capacity=4194304]
//                [--dir=/tmp] [--pin] [--sink=file|null] [--idle-seconds=3]
//
// Each contender logs `--messages` order fills per thread,
//
//     log->info("order {} filled qty {} px {:.2f}", id, qty, px);
//
// into a basic_file_sink_mt, from 1 and then 2 threads:
//
//   logbuf        logbuf::make_async_logger, block policy, 4 MiB ring
//   spdlog async  spdlog::async_logger, block policy, its default 8192-slot
//                 queue and one worker thread (a pool of its own per run)
//   spdlog sync   spdlog::logger writing to the file sink on the caller
//
// Caller latency: every call is timed with the harness's rdtsc timer; the
// percentiles include the timer's own cost, printed above the table.
// Throughput: messages over the time from the first call until every line is
// in the file (logbuf: flush() returned; spdlog async: the logger and its
// pool destroyed, which drains and joins; sync: flush() returned), then the
// file's lines are counted against the messages.
//
// Contenders alternate within each repetition (rotated order); the report
// gives medians with min-max spreads and ratios paired per repetition.
//
// Idle cost: 20 logbuf loggers (one shared backend thread) that logged once
// and then sit idle; the process's CPU time (getrusage) over --idle-seconds
// while this thread sleeps is the parked backend's.
// It reports; it fails (exit 1) only if a line is missing.

#include <logbuf/spdlog.hpp>

#include <harness/harness.hpp>

#include <spdlog/async.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>

namespace {

struct config {
    int reps = 5;
    std::uint64_t messages = 200'000;  // per thread per run
    std::vector<int> threads{1, 2};
    std::size_t capacity = std::size_t{4} << 20;
    std::filesystem::path dir = std::filesystem::temp_directory_path();
    bool pin = false;  // hot threads on the first CPUs, the backend on the last
    // --sink=null: a null sink instead of the file. "spdlog sync" is then
    // spdlog's own caller-side work alone (format, time stamp), the floor
    // under every contender, and the throughputs are the transports' own.
    bool null_sink = false;
    double idle_seconds = 3;
};

const char* const contenders[] = {"logbuf", "spdlog async", "spdlog sync"};
enum contender_id : std::size_t { logbuf_id, async_id, sync_id };

struct run_result {
    bench::histogram latency;  // ticks, every call of every thread
    double seconds = 0;        // first call until every line is in the file
    std::uint64_t lines = 0;
    std::uint64_t dropped = 0;
};

// One run of one contender. `make` builds the logger; `finish` returns once
// every line is in the file and tears the logger down.
template <class Finish>
void drive(const config& cfg, int threads, const std::shared_ptr<spdlog::logger>& log,
           Finish&& finish, run_result& out) {
    const std::vector<int> cpus = bench::allowed_cpus();
    std::vector<bench::histogram> hist(static_cast<std::size_t>(threads));
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            if (cfg.pin) bench::pin_this_thread(cpus[static_cast<std::size_t>(t) % cpus.size()]);
            bench::histogram& h = hist[static_cast<std::size_t>(t)];
            const std::uint64_t seed = static_cast<unsigned>(t) + 1u;
            std::uint64_t id = 1'000'000 * seed;
            std::uint64_t x = 0x9E3779B97F4A7C15ull * seed;
            // Release/acquire: a start line only; the data was set up before
            // the threads were made.
            ready.fetch_add(1, std::memory_order_release);
            while (!go.load(std::memory_order_acquire))
                bench::cpu_relax();
            for (std::uint64_t i = 0; i < cfg.messages; ++i) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                const unsigned qty = 100u * static_cast<unsigned>(1 + (x & 15));
                const double px = 100.0 + static_cast<double>((x >> 8) % 10000) / 100.0;
                const bench::ticks t0 = bench::start();
                log->info("order {} filled qty {} px {:.2f}", ++id, qty, px);
                const bench::ticks t1 = bench::stop();
                h.record(t1 - t0);
            }
        });
    }
    // Acquire/release on ready and go: a start line only (see above).
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

// Counts the lines it is given, so that the null-sink runs are checked too.
// (Not derived from null_sink_mt: that one has a null mutex.)
class counting_null_sink final : public spdlog::sinks::base_sink<std::mutex> {
  public:
    std::uint64_t lines = 0;  // read after the logger is gone

  protected:
    void sink_it_(const spdlog::details::log_msg&) override { ++lines; }
    void flush_() override {}
};

struct sink_under_test {
    spdlog::sink_ptr sink;
    std::shared_ptr<counting_null_sink> null;  // set for --sink=null
};

sink_under_test make_sink(const config& cfg, const std::filesystem::path& p) {
    if (cfg.null_sink) {
        auto n = std::make_shared<counting_null_sink>();
        return {n, n};
    }
    return {std::make_shared<spdlog::sinks::basic_file_sink_mt>(p.string(), /*truncate=*/true),
            nullptr};
}

// The backend / worker thread goes on the last CPU when pinning.
void pin_backend(const config& cfg) {
    if (cfg.pin) bench::pin_this_thread(bench::allowed_cpus().back());
}

run_result run_one(const config& cfg, std::size_t who, int threads) {
    const auto path = cfg.dir / ("logbuf_spdlog_bench." + std::to_string(::getpid()) + "." +
                                 std::to_string(who) + ".log");
    run_result r;
    const sink_under_test out = make_sink(cfg, path);
    switch (who) {
        case logbuf_id: {
            logbuf::async_options o;
            o.capacity = cfg.capacity;
            o.use_registry = false;
            o.on_thread_start = [&cfg] { pin_backend(cfg); };
            auto log = logbuf::make_async_logger("orders", out.sink, o);
            auto* async = dynamic_cast<logbuf::async_logger*>(log.get());
            drive(
                cfg, threads, log,
                [&] {
                    log->flush();  // synchronous: every line is in the file
                    r.dropped = async->dropped();
                    log.reset();
                },
                r);
            break;
        }
        case async_id: {
            auto tp = std::make_shared<spdlog::details::thread_pool>(
                spdlog::details::default_async_q_size, 1U, [&cfg] { pin_backend(cfg); });
            std::shared_ptr<spdlog::logger> log = std::make_shared<spdlog::async_logger>(
                "orders", out.sink, tp, spdlog::async_overflow_policy::block);
            drive(
                cfg, threads, log,
                [&] {
                    // spdlog's flush() only queues a request: the lines are
                    // in the file once the pool has drained and joined, and
                    // the sink (which we still hold) is flushed.
                    log.reset();
                    r.dropped = tp->overrun_counter();
                    tp.reset();
                    out.sink->flush();
                },
                r);
            break;
        }
        default: {
            auto log = std::make_shared<spdlog::logger>("orders", out.sink);
            drive(
                cfg, threads, log, [&] { log->flush(); }, r);
            break;
        }
    }
    r.lines = out.null ? out.null->lines : bench::count_lines(path);
    std::filesystem::remove(path);
    return r;
}

// The share of one core the idle backend takes with 20 loggers.
double idle_backend_share(const config& cfg) {
    auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(
        (cfg.dir / ("logbuf_spdlog_idle." + std::to_string(::getpid()) + ".log")).string(), true);
    std::vector<std::shared_ptr<spdlog::logger>> loggers;
    logbuf::async_options o;
    o.use_registry = false;
    for (int i = 0; i < 20; ++i) {
        loggers.push_back(logbuf::make_async_logger("idle" + std::to_string(i), sink, o));
        loggers.back()->info("logger {} is up", i);
        loggers.back()->flush();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // settle into parking
    const double cpu0 = bench::process_cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(cfg.idle_seconds));
    const double cpu = bench::process_cpu_seconds() - cpu0;
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    loggers.clear();
    std::filesystem::remove(cfg.dir /
                            ("logbuf_spdlog_idle." + std::to_string(::getpid()) + ".log"));
    return cpu / wall;
}

int run(int argc, char** argv) {
    bench::options opt(argc, argv);
    config cfg;
    cfg.reps = static_cast<int>(opt.get_int("reps", cfg.reps));
    cfg.messages =
        static_cast<std::uint64_t>(opt.get_int("messages", static_cast<long long>(cfg.messages)));
    cfg.threads = bench::parse_int_list(opt.get("threads", "1,2"));
    cfg.capacity =
        static_cast<std::size_t>(opt.get_int("capacity", static_cast<long long>(cfg.capacity)));
    cfg.dir = opt.get("dir", cfg.dir.string());
    cfg.pin = opt.has("pin");
    cfg.null_sink = opt.get("sink", "file") == "null";
    cfg.idle_seconds = static_cast<double>(opt.get_int("idle-seconds", 3));
    opt.reject_unknown();

    bench::print_machine(std::cout);
    const bench::tsc_info& tsc = bench::tsc();
    std::printf(
        "timer: rdtsc, %.3f ticks/ns, an empty start/stop costs %.0f ns (median; min %.0f): "
        "included in every latency below\n",
        tsc.ticks_per_ns, tsc.to_ns(tsc.overhead_median), tsc.to_ns(tsc.overhead_min));
    std::printf(
        "%d repetitions x %llu messages per thread per run; logbuf ring %zu bytes; %s; "
        "%s\n\n",
        cfg.reps, static_cast<unsigned long long>(cfg.messages), cfg.capacity,
        cfg.pin ? "pinned" : "not pinned",
        cfg.null_sink ? "null sink (spdlog sync = spdlog's caller-side floor)"
                      : "basic_file_sink_mt");

    bool lost = false;
    bool all_targets = true;
    for (const int threads : cfg.threads) {
        bench::results res;
        std::printf("%d logging thread%s:", threads, threads == 1 ? "" : "s");
        std::fflush(stdout);
        bench::run_alternating(cfg.reps, std::size(contenders), [&](std::size_t who, int) {
            const run_result r = run_one(cfg, who, threads);
            const bench::latency_summary s = r.latency.summary();
            const std::uint64_t expected = cfg.messages * static_cast<std::uint64_t>(threads);
            const std::string name = contenders[who];
            res.add(name, "p50", tsc.to_ns(s.p50));
            res.add(name, "p99", tsc.to_ns(s.p99));
            res.add(name, "p999", tsc.to_ns(s.p999));
            res.add(name, "max", tsc.to_ns(s.max) / 1000.0);
            res.add(name, "Mmsg/s", static_cast<double>(expected) / r.seconds / 1e6);
            res.add(name, "dropped", static_cast<double>(r.dropped));
            if (r.lines != expected) {
                std::printf("\n  %s: %llu lines in the file, %llu logged\n", name.c_str(),
                            static_cast<unsigned long long>(r.lines),
                            static_cast<unsigned long long>(expected));
                lost = true;
            }
            std::printf(" .");
            std::fflush(stdout);
        });
        std::printf("\n");
        bench::print_table(std::cout, res, {contenders[0], contenders[1], contenders[2]},
                           {{"p50", "p50 ns", 0},
                            {"p99", "p99 ns", 0},
                            {"p999", "p99.9 ns", 0},
                            {"max", "max us", 0},
                            {"Mmsg/s", "M msg/s", 2},
                            {"dropped", "dropped", 0}},
                           16, 27);
        std::printf("targets, %d thread%s (paired ratios per repetition, median [min-max]):\n",
                    threads, threads == 1 ? "" : "s");
        // Informational: spdlog's API formats on the caller, so no adapter
        // gets below spdlog's own formatting (logbuf::log formats later).
        (void)bench::print_target(std::cout, "caller p50: logbuf / spdlog sync (no target)",
                                  res.ratio("logbuf", "spdlog sync", "p50"), 1.0, bench::at_most);
        all_targets &=
            bench::print_target(std::cout, "caller p99.9: logbuf / spdlog async",
                                res.ratio("logbuf", "spdlog async", "p999"), 0.05, bench::at_most);
        all_targets &= bench::print_target(std::cout, "throughput to disk: logbuf / spdlog async",
                                           res.ratio("logbuf", "spdlog async", "Mmsg/s"), 2.0,
                                           bench::at_least);
        std::printf("\n");
    }
    if (cfg.idle_seconds > 0) {
        const double share = idle_backend_share(cfg);
        std::printf(
            "idle: 20 loggers, one backend thread: %.3f%% of a core over %.0f s "
            "(target <= 1%%): %s\n",
            share * 100, cfg.idle_seconds, share <= 0.01 ? "met" : "MISSED");
        all_targets &= share <= 0.01;
    }
    std::printf("lines: %s\n", lost ? "MISSING (see above)" : "every message is in its file");
    std::printf("targets: %s\n", all_targets ? "all met" : "not all met (see above)");
    return lost ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
    return bench::guarded_main("spdlog_bench", argc, argv, run);
}
