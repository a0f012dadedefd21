// logbuf::async_logger against spdlog's synchronous logger: the same pattern
// prints the same text, every log_msg field arrives as the caller made it,
// flush() means written, sink errors go to the error handler and the backend
// carries on.
#include "test_sinks.hpp"

#include <logbuf/spdlog.hpp>

#include <spdlog/details/os.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using logbuf_test::capture_sink;
using logbuf_test::temp_file;
using logbuf_test::throwing_sink;

logbuf::async_options unregistered() {
    logbuf::async_options o;
    o.use_registry = false;
    return o;
}

// Every pattern flag that depends on the message (and a few that do not).
// The elapsed-time flags (%o %i %u %O) are deterministic too: both loggers
// see the same time stamps in the same order.
constexpr const char* every_flag =
    "%Y-%m-%d %H:%M:%S.%e.%f.%F %z %a %A %b %B %c %C %D %T %p %I %m %d %y %j "
    "[%l] [%L] [%n] [%t] [%P] [%s] [%g] [%#] [%!] [%@] %E [%o %i %u %O] [%^%l%$] %v";

TEST(SpdlogAsyncLogger, PatternPrintsWhatASynchronousLoggerPrints) {
    std::ostringstream sync_out, async_out;
    auto sync_sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(sync_out);
    auto async_sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(async_out);
    sync_sink->set_pattern(every_flag);
    async_sink->set_pattern(every_flag);

    spdlog::logger sync("trading", sync_sink);
    auto async = logbuf::make_async_logger("trading", async_sink, unregistered());
    sync.set_level(spdlog::level::trace);
    async->set_level(spdlog::level::trace);

    // Fixed time stamps (given to both loggers), every level, with and
    // without a source location.
    const auto t0 = std::chrono::time_point_cast<spdlog::log_clock::duration>(
        spdlog::log_clock::time_point(std::chrono::seconds(1'700'000'000)));
    const spdlog::source_loc here{__FILE__, __LINE__, static_cast<const char*>(__FUNCTION__)};
    const spdlog::source_loc nowhere{};
    int n = 0;
    for (int lvl = spdlog::level::trace; lvl <= spdlog::level::critical; ++lvl) {
        for (int k = 0; k < 20; ++k, ++n) {
            const auto t = t0 + std::chrono::nanoseconds(std::int64_t{n} * 987'654'321 + k * 7);
            const auto& loc = (k % 3 == 0) ? nowhere : here;
            const std::string text = "order " + std::to_string(n) + " filled qty " +
                                     std::to_string(k * 100) + " px 101.25 \xE2\x82\xAC";
            const auto level = static_cast<spdlog::level::level_enum>(lvl);
            sync.log(t, loc, level, text);
            async->log(t, loc, level, text);
        }
    }
    async->flush();
    sync.flush();
    EXPECT_EQ(async_out.str(), sync_out.str());
    EXPECT_FALSE(sync_out.str().empty());
}

TEST(SpdlogAsyncLogger, EveryFieldArrivesAsTheCallerMadeIt) {
    auto sink = std::make_shared<capture_sink>();
    auto log = logbuf::make_async_logger("fields", sink, unregistered());
    log->set_level(spdlog::level::trace);

    constexpr int threads = 4, per_thread = 500;
    std::vector<std::size_t> tids(threads);
    std::vector<
        std::vector<std::pair<spdlog::log_clock::time_point, spdlog::log_clock::time_point>>>
        windows(threads);
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            tids[static_cast<std::size_t>(t)] = spdlog::details::os::thread_id();
            auto& w = windows[static_cast<std::size_t>(t)];
            for (int i = 0; i < per_thread; ++i) {
                const auto before = spdlog::log_clock::now();
                SPDLOG_LOGGER_CALL(log, static_cast<spdlog::level::level_enum>(i % 6),
                                   "thread {} message {} px {:.2f}", t, i, i * 0.25);
                w.emplace_back(before, spdlog::log_clock::now());
            }
        });
    }
    for (auto& th : pool)
        th.join();
    log->flush();

    const auto got = sink->messages();
    ASSERT_EQ(got.size(), std::size_t{threads * per_thread});
    std::vector<int> next(threads, 0);
    for (const auto& m : got) {
        int t = -1, i = -1;
        ASSERT_EQ(std::sscanf(m.payload.c_str(), "thread %d message %d", &t, &i), 2) << m.payload;
        ASSERT_TRUE(t >= 0 && t < threads);
        const auto ut = static_cast<std::size_t>(t);
        EXPECT_EQ(i, next[ut]++) << "per-thread order";
        char expected[96];
        std::snprintf(expected, sizeof expected, "thread %d message %d px %.2f", t, i, i * 0.25);
        EXPECT_EQ(m.payload, expected);
        EXPECT_EQ(m.level, static_cast<spdlog::level::level_enum>(i % 6));
        EXPECT_EQ(m.thread_id, tids[ut]);
        EXPECT_EQ(m.logger_name, "fields");
        EXPECT_EQ(m.file, __FILE__);
        EXPECT_EQ(m.function, "operator()");
        EXPECT_GT(m.line, 0);
        const auto& [before, after] = windows[ut][static_cast<std::size_t>(i)];
        EXPECT_LE(before, m.time);
        EXPECT_LE(m.time, after);
    }
}

TEST(SpdlogAsyncLogger, FlushMeansWrittenFromSeveralThreads) {
    for (const bool wake : {false, true}) {
        temp_file file("flush_threads");
        auto capture = std::make_shared<capture_sink>();
        auto disk = std::make_shared<spdlog::sinks::basic_file_sink_mt>(file.str(), true);
        disk->set_pattern("%v");
        logbuf::async_options o = unregistered();
        o.capacity = 8192;  // small: the writers also meet a full ring
        o.wake_on_log = wake;
        auto log = logbuf::make_async_logger("flusher", {capture, disk}, o);

        constexpr int threads = 4, per_thread = 2000, flush_every = 97;
        std::atomic<int> failures{0};
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; ++t) {
            pool.emplace_back([&, t] {
                for (int i = 0; i < per_thread; ++i) {
                    log->info("t{} i{}", t, i);
                    if (i % flush_every == flush_every - 1 || i == per_thread - 1) {
                        log->flush();
                        // Everything this thread logged is in the sink now.
                        const auto lines = capture->lines();
                        int seen = 0;
                        const std::string prefix = "t" + std::to_string(t) + " ";
                        for (const auto& l : lines)
                            if (l.rfind(prefix, 0) == 0) ++seen;
                        // Relaxed: read after join(), which orders it.
                        if (seen != i + 1) failures.fetch_add(1, std::memory_order_relaxed);
                    }
                }
            });
        }
        for (auto& th : pool)
            th.join();
        EXPECT_EQ(failures.load(std::memory_order_relaxed), 0) << "wake_on_log=" << wake;

        // The file, read after the last flush: every line, per-thread order.
        const auto lines = file.lines();
        ASSERT_EQ(lines.size(), std::size_t{threads * per_thread});
        std::vector<int> next(threads, 0);
        for (const auto& l : lines) {
            int t = -1, i = -1;
            ASSERT_EQ(std::sscanf(l.c_str(), "t%d i%d", &t, &i), 2) << l;
            EXPECT_EQ(i, next[static_cast<std::size_t>(t)]++);
        }
    }
}

TEST(SpdlogAsyncLogger, SinkErrorsGoToTheErrorHandlerAndTheBackendCarriesOn) {
    auto bad = std::make_shared<throwing_sink>();
    auto good = std::make_shared<capture_sink>();
    auto log = logbuf::make_async_logger("errors", {bad, good}, unregistered());
    std::mutex m;
    std::vector<std::string> errors;
    log->set_error_handler([&](const std::string& what) {
        std::lock_guard<std::mutex> lock(m);
        errors.push_back(what);
    });
    constexpr int n = 300;
    for (int i = 0; i < n; ++i) {
        if (i % 10 == 3)
            log->info("boom {}", i);
        else if (i % 10 == 7)
            log->info("int {}", i);
        else
            log->info("fine {}", i);
    }
    // Relaxed: the flush() below carries it to the backend (its record's
    // commit is a release, the backend's read of it an acquire).
    bad->throw_on_flush.store(true, std::memory_order_relaxed);
    log->flush();  // the flush error is reported too; flush still returns
    bad->throw_on_flush.store(false, std::memory_order_relaxed);
    log->info("after");
    log->flush();

    EXPECT_EQ(good->size(), std::size_t{n + 1});  // the other sink saw everything
    EXPECT_EQ(bad->written.load(std::memory_order_relaxed), std::size_t{n - 2 * n / 10 + 1});
    std::lock_guard<std::mutex> lock(m);
    std::size_t booms = 0, unknown = 0, flushes = 0;
    for (const auto& e : errors) {
        if (e == "sink says boom") ++booms;
        if (e == "unknown exception in sink") ++unknown;
        if (e == "flush says boom") ++flushes;
    }
    EXPECT_EQ(booms, std::size_t{n / 10});
    EXPECT_EQ(unknown, std::size_t{n / 10});
    EXPECT_EQ(flushes, 1u);
}

TEST(SpdlogAsyncLogger, SinkErrorWithASourceLocationNamesIt) {
    auto bad = std::make_shared<throwing_sink>();
    auto log = logbuf::make_async_logger("located", bad, unregistered());
    std::string error;
    log->set_error_handler([&](const std::string& what) { error = what; });
    SPDLOG_LOGGER_INFO(log, "boom");
    log->flush();  // the handler ran on the backend before flush returned
    EXPECT_NE(error.find("sink says boom ["), std::string::npos) << error;
    EXPECT_NE(error.find(__FILE__), std::string::npos) << error;
}

TEST(SpdlogAsyncLogger, FlushOnLevelFlushesOnTheBackend) {
    auto sink = std::make_shared<capture_sink>();
    auto log = logbuf::make_async_logger("flush_on", sink, unregistered());
    log->flush_on(spdlog::level::warn);
    log->info("no flush");
    log->warn("flush after this");
    log->flush();  // one more flush
    EXPECT_EQ(sink->flushes(), 2u);
    EXPECT_EQ(sink->size(), 2u);
}

TEST(SpdlogAsyncLogger, FlushFromInsideASinkDoesNotDeadlock) {
    // The error handler runs on the backend thread; flushing from there must
    // write through instead of waiting for itself.
    auto bad = std::make_shared<throwing_sink>();
    auto good = std::make_shared<capture_sink>();
    auto log = logbuf::make_async_logger("reentrant", {bad, good}, unregistered());
    spdlog::logger* raw = log.get();
    std::atomic<int> handled{0};
    log->set_error_handler([&](const std::string&) {
        raw->flush();
        // Relaxed: read after our own flush(), whose acquire of the flush
        // ticket orders the backend's handler calls before it.
        handled.fetch_add(1, std::memory_order_relaxed);
    });
    for (int i = 0; i < 50; ++i)
        log->info("boom {}", i);
    log->flush();
    EXPECT_EQ(handled.load(std::memory_order_relaxed), 50);
    EXPECT_EQ(good->size(), 50u);
}

TEST(SpdlogAsyncLogger, PerSinkLevelsAndBacktraceBehaveAsSynchronously) {
    // The same calls on a synchronous logger and on ours: the same lines in
    // the same sinks.
    const auto run = [](spdlog::logger& log, capture_sink& errors_only) {
        errors_only.set_level(spdlog::level::err);
        log.enable_backtrace(4);
        log.debug("kept for the backtrace 1");  // below the logger's level (info)
        log.debug("kept for the backtrace 2");
        log.info("info");
        log.error("error");
        log.dump_backtrace();
        log.flush();
    };
    auto sync_all = std::make_shared<capture_sink>(), sync_err = std::make_shared<capture_sink>();
    auto async_all = std::make_shared<capture_sink>(), async_err = std::make_shared<capture_sink>();
    spdlog::logger sync("levels", {sync_all, sync_err});
    auto async = logbuf::make_async_logger("levels", {async_all, async_err}, unregistered());
    run(sync, *sync_err);
    run(*async, *async_err);
    EXPECT_EQ(async_all->lines(), sync_all->lines());
    EXPECT_EQ(async_err->lines(), sync_err->lines());
    EXPECT_GE(async_all->size(), 6u);
    EXPECT_EQ(async_err->size(), 2u);  // "error", and again in the backtrace
}

TEST(SpdlogAsyncLogger, CloneSharesTheRingAndHasItsOwnName) {
    auto sink = std::make_shared<capture_sink>();
    sink->set_pattern("%n %v");
    auto log = logbuf::make_async_logger("original", sink, unregistered());
    log->set_level(spdlog::level::debug);
    auto copy = log->clone("copy");
    ASSERT_NE(dynamic_cast<logbuf::async_logger*>(copy.get()), nullptr);
    EXPECT_EQ(copy->level(), spdlog::level::debug);
    log->debug("a");
    log->flush();
    copy->debug("b");
    copy->flush();
    EXPECT_EQ(sink->lines(), (std::vector<std::string>{"original a", "copy b"}));
}

TEST(SpdlogAsyncLogger, FactoryIsAOneWordChangeFromSpdlogs) {
    temp_file file("factory");
    {
        auto log = spdlog::basic_logger_mt<logbuf::async_factory>("factory_logger", file.str());
        ASSERT_NE(dynamic_cast<logbuf::async_logger*>(log.get()), nullptr);
        EXPECT_EQ(spdlog::get("factory_logger"), log);  // registered, as spdlog's factories do
        for (int i = 0; i < 100; ++i)
            log->info("line {}", i);
        log->flush();
        EXPECT_EQ(file.lines().size(), 100u);
        auto nonblock =
            spdlog::basic_logger_mt<logbuf::async_factory_nonblock>("factory_nb", file.str());
        EXPECT_EQ(dynamic_cast<logbuf::async_logger&>(*nonblock).options().overflow,
                  logbuf::overflow_policy::drop);
    }
    spdlog::drop("factory_logger");
    spdlog::drop("factory_nb");
}

TEST(SpdlogAsyncLogger, RegistryTakesTheGlobalSettings) {
    spdlog::set_level(spdlog::level::warn);
    auto sink = std::make_shared<capture_sink>();
    auto log = logbuf::make_async_logger("registered", sink);  // default options
    EXPECT_EQ(log->level(), spdlog::level::warn);
    EXPECT_EQ(spdlog::get("registered"), log);
    EXPECT_THROW(logbuf::make_async_logger("registered", sink), spdlog::spdlog_ex);
    spdlog::drop("registered");
    spdlog::set_level(spdlog::level::info);
}

}  // namespace
