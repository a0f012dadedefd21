// spdlog_demo - a small "trading" program: a few hot threads fill orders and
// log every fill,
//
//     log->info("order {} filled qty {} px {:.2f}", id, qty, px);
//
// into a file, three times: through logbuf::log (formatting on the backend
// thread), through logbuf's spdlog adapter (logbuf::make_async_logger:
// formats on the caller, copies into the ring) and through spdlog's own
// async logger (block policy, default 8192-slot queue). For each it measures
// what the hot thread pays per call (steady_clock around each call; the
// clock's own cost is shown), how fast the whole run goes until every line
// is in the file, and then counts the file's lines against the messages
// logged. Exits 1 if a line is missing.
//
//   spdlog_demo [--threads=N] [--messages=N] [--capacity=BYTES] [--dir=PATH] [--keep]
//               [--percentiles=FILE]   (latency percentiles, one row per percentile,
//                                       for gnuplot: scripts/demo draws docs/latency.png)
#include <logbuf/log.hpp>
#include <logbuf/spdlog.hpp>

#include <spdlog/async.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <unistd.h>

namespace {

using clock_type = std::chrono::steady_clock;

struct config {
    int threads = 0;             // 0: one less than the cores, 1 to 3
    std::uint64_t messages = 0;  // per thread; 0: 2 M in all
    std::size_t capacity = std::size_t{1} << 22;
    std::filesystem::path dir = std::filesystem::temp_directory_path() / "logbuf_spdlog_demo";
    bool keep = false;
    std::filesystem::path percentiles;  // empty: not written
};

bool parse(int argc, char** argv, config& c) {
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        const auto value = [&](std::string_view key) -> const char* {
            return a.substr(0, key.size()) == key ? argv[i] + key.size() : nullptr;
        };
        if (const char* v = value("--threads=")) {
            c.threads = std::atoi(v);
        } else if (const char* m = value("--messages=")) {
            c.messages = std::strtoull(m, nullptr, 10);
        } else if (const char* b = value("--capacity=")) {
            c.capacity = std::strtoull(b, nullptr, 10);
        } else if (const char* d = value("--dir=")) {
            c.dir = d;
        } else if (const char* f = value("--percentiles=")) {
            c.percentiles = f;
        } else if (a == "--keep") {
            c.keep = true;
        } else {
            std::fprintf(stderr,
                         "usage: %s [--threads=N] [--messages=N per thread] [--capacity=BYTES] "
                         "[--dir=PATH] [--keep] [--percentiles=FILE]\n",
                         argv[0]);
            return false;
        }
    }
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    // Hot threads plus the logger's backend thread should fit the cores, or
    // the percentiles measure the scheduler.
    if (c.threads <= 0) c.threads = std::clamp(cores - 1, 1, 3);
    if (c.messages == 0) c.messages = 2'000'000 / static_cast<std::uint64_t>(c.threads);
    return c.threads > 0;
}

// Cost of one steady_clock::now() pair: included in every sample below.
double timer_overhead_ns() {
    std::vector<std::int64_t> d(100000);
    for (auto& v : d) {
        const auto a = clock_type::now();
        const auto b = clock_type::now();
        v = (b - a).count();
    }
    std::sort(d.begin(), d.end());
    return static_cast<double>(d[d.size() / 2]);
}

struct result {
    std::string name;
    std::uint64_t messages = 0;
    std::uint64_t lines = 0;
    std::uint64_t drops = 0;
    double p50 = 0, p99 = 0, p999 = 0, max = 0;  // ns per call
    std::vector<double> curve;                   // ns at each of plot_points
    double log_seconds = 0;                      // until the hot threads were done
    double total_seconds = 0;                    // until every line was in the file
    [[nodiscard]] double throughput() const {
        return static_cast<double>(messages) / total_seconds;
    }
};

// Lines in the file: what actually reached it.
std::uint64_t count_lines(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return static_cast<std::uint64_t>(std::count(std::istreambuf_iterator<char>(in), {}, '\n'));
}

// The percentiles the plot shows: 50, 90, 99, ... 99.999.
constexpr double plot_points[] = {0.5,   0.75,  0.9,    0.95,   0.99,
                                  0.995, 0.999, 0.9995, 0.9999, 0.99999};

// Runs the hot threads against `log`; `finish` must return once every line
// is in the file. Fills latency, timing and message counts.
template <class Logger>
void drive(const std::string& name, const std::shared_ptr<Logger>& log, const config& cfg,
           const std::function<void()>& finish, result& r) {
    const auto threads = static_cast<std::size_t>(cfg.threads);
    std::vector<std::vector<std::uint32_t>> samples(threads);
    for (auto& s : samples)
        s.resize(cfg.messages);  // allocated and touched before the clock starts
    std::atomic<std::uint64_t> logged{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> pool;
    for (std::size_t t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            std::vector<std::uint32_t>& mine = samples[t];
            // A deterministic stream of fills: ids, quantities, prices.
            std::uint64_t id = 1'000'000 * (t + 1);
            std::uint64_t x = 0x9E3779B97F4A7C15ull * (t + 1);
            // Acquire pairs with the release store of `go` below: a start
            // line (everything was set up before the threads were made).
            while (!go.load(std::memory_order_acquire))
                std::this_thread::yield();
            for (std::uint64_t i = 0; i < cfg.messages; ++i) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;  // xorshift
                const unsigned qty = 100u * static_cast<unsigned>(1 + (x & 15));
                const double px = 100.0 + static_cast<double>((x >> 8) % 10000) / 100.0;
                const auto t0 = clock_type::now();
                log->info("order {} filled qty {} px {:.2f}", ++id, qty, px);
                const auto t1 = clock_type::now();
                mine[i] = static_cast<std::uint32_t>(
                    std::min<std::int64_t>((t1 - t0).count(), UINT32_MAX));
                // Relaxed: progress for the display only.
                if ((i & 1023) == 1023) logged.fetch_add(1024, std::memory_order_relaxed);
            }
        });
    }
    const std::uint64_t total = cfg.messages * threads;
    const bool tty = ::isatty(STDOUT_FILENO) != 0;
    const auto start = clock_type::now();
    go.store(true, std::memory_order_release);  // pairs with the threads' acquire
    auto next_report = start;
    for (;;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        // Relaxed: a display; join() below is what orders the threads' work.
        const std::uint64_t n = std::min(logged.load(std::memory_order_relaxed), total);
        const auto now = clock_type::now();
        const bool done = n + 1024 * threads > total;
        if (now >= next_report || done) {
            std::printf(tty ? "\r  %-14s %5.1f%% of %llu messages logged"
                            : "  %-14s %5.1f%% of %llu messages logged\n",
                        name.c_str(), 100.0 * static_cast<double>(n) / static_cast<double>(total),
                        static_cast<unsigned long long>(total));
            std::fflush(stdout);
            next_report = now + (tty ? std::chrono::milliseconds(200) : std::chrono::seconds(1));
        }
        if (done) break;
    }
    for (auto& th : pool)
        th.join();
    const auto logged_at = clock_type::now();
    std::printf(tty ? "\r  %-14s all %llu logged; writing out...     "
                    : "  %-14s all %llu logged; writing out...\n",
                name.c_str(), static_cast<unsigned long long>(total));
    std::fflush(stdout);
    finish();
    const auto end = clock_type::now();
    std::printf(tty ? "\r  %-14s done in %.2f s%30s\n" : "  %-14s done in %.2f s%s\n", name.c_str(),
                std::chrono::duration<double>(end - start).count(), "");

    std::vector<std::uint32_t> all;
    all.reserve(total);
    for (const auto& s : samples)
        all.insert(all.end(), s.begin(), s.end());
    std::sort(all.begin(), all.end());
    const auto at = [&](double q) {
        return static_cast<double>(all[std::min(
            all.size() - 1, static_cast<std::size_t>(q * static_cast<double>(all.size())))]);
    };
    r.name = name;
    r.messages = total;
    r.p50 = at(0.50);
    r.p99 = at(0.99);
    r.p999 = at(0.999);
    r.max = static_cast<double>(all.back());
    for (const double q : plot_points)
        r.curve.push_back(at(q));
    r.log_seconds = std::chrono::duration<double>(logged_at - start).count();
    r.total_seconds = std::chrono::duration<double>(end - start).count();
}

std::shared_ptr<spdlog::sinks::basic_file_sink_mt> file_sink(const std::filesystem::path& p) {
    return std::make_shared<spdlog::sinks::basic_file_sink_mt>(p.string(), /*truncate=*/true);
}

result run_front_end(const config& cfg, const std::filesystem::path& file) {
    result r;
    logbuf::log::logger_options options;
    options.ring_capacity = cfg.capacity;
    auto log = logbuf::log::make_logger("orders", file_sink(file), options);
    // flush() is synchronous: when it returns, every line is in the file.
    drive(
        "logbuf::log", log, cfg, [&] { log->flush(); }, r);
    r.drops = log->dropped();
    log.reset();
    r.lines = count_lines(file);
    return r;
}

result run_logbuf(const config& cfg, const std::filesystem::path& file) {
    result r;
    logbuf::async_options options;
    options.capacity = cfg.capacity;
    options.use_registry = false;
    auto log = logbuf::make_async_logger("orders", file_sink(file), options);
    auto& async = dynamic_cast<logbuf::async_logger&>(*log);
    // flush() is synchronous: when it returns, every line is in the file.
    drive(
        "logbuf adapter", log, cfg, [&] { log->flush(); }, r);
    r.drops = async.dropped();
    log.reset();
    r.lines = count_lines(file);
    return r;
}

result run_spdlog(const config& cfg, const std::filesystem::path& file) {
    result r;
    auto pool = std::make_shared<spdlog::details::thread_pool>(8192, 1);
    auto log = std::make_shared<spdlog::async_logger>("orders", file_sink(file), pool,
                                                      spdlog::async_overflow_policy::block);
    // spdlog's flush() only queues a request; the lines are in the file once
    // the logger and its thread pool are gone (the pool drains, then joins).
    drive(
        "spdlog async", log, cfg,
        [&] {
            log.reset();
            r.drops = pool->overrun_counter();
            pool.reset();
        },
        r);
    r.lines = count_lines(file);
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    config cfg;
    if (!parse(argc, argv, cfg)) return 2;
    std::filesystem::create_directories(cfg.dir);
    const auto front_file = cfg.dir / "orders.logbuf-log.log";
    const auto logbuf_file = cfg.dir / "orders.logbuf-adapter.log";
    const auto spdlog_file = cfg.dir / "orders.spdlog-async.log";
    const double overhead = timer_overhead_ns();

    std::printf(
        "spdlog_demo: %d hot thread%s x %llu fills, each logged with\n"
        "  log->info(\"order {} filled qty {} px {:.2f}\", id, qty, px);\n"
        "into a file, through logbuf::log (formats on the backend), logbuf's spdlog adapter\n"
        "(formats on the caller; ring %zu bytes, block) and spdlog's async logger "
        "(queue 8192, block).\n\n",
        cfg.threads, cfg.threads == 1 ? "" : "s", static_cast<unsigned long long>(cfg.messages),
        cfg.capacity);

    const result rows[] = {run_front_end(cfg, front_file), run_logbuf(cfg, logbuf_file),
                           run_spdlog(cfg, spdlog_file)};

    std::printf("\n%-14s %10s %10s %6s %9s %9s %9s %10s %12s\n", "", "messages", "lines", "drops",
                "p50 ns", "p99 ns", "p99.9 ns", "max us", "msg/s");
    bool lost = false;
    for (const result& r : rows) {
        std::printf("%-14s %10llu %10llu %6llu %9.0f %9.0f %9.0f %10.1f %12.0f%s\n", r.name.c_str(),
                    static_cast<unsigned long long>(r.messages),
                    static_cast<unsigned long long>(r.lines),
                    static_cast<unsigned long long>(r.drops), r.p50, r.p99, r.p999, r.max / 1000.0,
                    r.throughput(), r.lines == r.messages ? "" : "  LINES MISSING");
        lost = lost || r.lines != r.messages;
    }
    std::printf(
        "\nLatency: what one log call costs the hot thread, steady_clock around each call "
        "(timer overhead %.0f ns included).\n"
        "msg/s: all messages over the time from the first call until every line was in "
        "the file (counted afterwards).\n",
        overhead);
    const result& spdlog_async = rows[2];
    for (const result& r : {rows[0], rows[1]})
        std::printf("%s vs spdlog async: p50 %.1fx lower, p99.9 %.1fx lower, throughput %.1fx.\n",
                    r.name.c_str(), spdlog_async.p50 / r.p50, spdlog_async.p999 / r.p999,
                    r.throughput() / spdlog_async.throughput());
    if (!cfg.percentiles.empty()) {
        if (std::FILE* f = std::fopen(cfg.percentiles.c_str(), "w")) {
            std::fprintf(f, "percentile");
            for (const result& r : rows)
                std::fprintf(f, " \"%s\"", r.name.c_str());
            std::fprintf(f, "\n");
            for (std::size_t i = 0; i < std::size(plot_points); ++i) {
                std::fprintf(f, "%.3f", 100.0 * plot_points[i]);
                for (const result& r : rows)
                    std::fprintf(f, " %.0f", r.curve[i]);
                std::fprintf(f, "\n");
            }
            std::fclose(f);
        }
    }
    if (cfg.keep) {
        std::printf("Files kept: %s, %s, %s\n", front_file.c_str(), logbuf_file.c_str(),
                    spdlog_file.c_str());
    } else {
        std::filesystem::remove(front_file);
        std::filesystem::remove(logbuf_file);
        std::filesystem::remove(spdlog_file);
    }
    if (lost) {
        std::printf("FAIL: lines missing with the block policy.\n");
        return 1;
    }
    return 0;
}
