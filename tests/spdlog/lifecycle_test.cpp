// Creation and shutdown of logbuf::async_logger: bad options are refused;
// destroying the logger, spdlog::drop() and spdlog::shutdown() write every
// message already logged; flush() gives up on a stuck sink and says so.
#include "test_sinks.hpp"

#include <logbuf/spdlog.hpp>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using logbuf_test::capture_sink;
using logbuf_test::gate_sink;
using logbuf_test::temp_file;

std::shared_ptr<spdlog::sinks::basic_file_sink_mt> file_sink(const temp_file& f) {
    auto s = std::make_shared<spdlog::sinks::basic_file_sink_mt>(f.str(), true);
    s->set_pattern("%v");
    return s;
}

// Checks that `lines` holds `threads` x `per_thread` lines "t<t> i<i>", each
// thread's in order.
void expect_every_line(const std::vector<std::string>& lines, int threads, int per_thread) {
    ASSERT_EQ(lines.size(), static_cast<std::size_t>(threads * per_thread));
    std::vector<int> next(static_cast<std::size_t>(threads), 0);
    for (const auto& l : lines) {
        int t = -1, i = -1;
        ASSERT_EQ(std::sscanf(l.c_str(), "t%d i%d", &t, &i), 2) << l;
        ASSERT_TRUE(t >= 0 && t < threads);
        EXPECT_EQ(i, next[static_cast<std::size_t>(t)]++);
    }
}

void log_from_threads(spdlog::logger& log, int threads, int per_thread) {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
        pool.emplace_back([&log, t, per_thread] {
            for (int i = 0; i < per_thread; ++i)
                log.info("t{} i{}", t, i);
        });
    for (auto& th : pool)
        th.join();
}

TEST(SpdlogLifecycle, BadOptionsAreRefused) {
    auto sink = std::make_shared<capture_sink>();
    logbuf::async_options o;
    o.use_registry = false;
    o.capacity = 64;
    EXPECT_THROW(logbuf::make_async_logger("bad", sink, o), std::invalid_argument);
    o.capacity = logbuf::min_async_capacity - 1;
    EXPECT_THROW(logbuf::make_async_logger("bad", sink, o), std::invalid_argument);
    o.capacity = logbuf::min_async_capacity;
    EXPECT_NO_THROW(logbuf::make_async_logger("ok", sink, o));
    o.capacity = std::size_t{1} << 63;  // cannot be rounded up to a power of two
    EXPECT_THROW(logbuf::make_async_logger("bad", sink, o), std::invalid_argument);
    o = {};
    o.use_registry = false;
    o.idle_sleep = std::chrono::nanoseconds(0);
    EXPECT_THROW(logbuf::make_async_logger("bad", sink, o), std::invalid_argument);
    o = {};
    o.use_registry = false;
    o.flush_timeout = std::chrono::milliseconds(-1);
    EXPECT_THROW(logbuf::make_async_logger("bad", sink, o), std::invalid_argument);
    o = {};
    o.use_registry = false;
    EXPECT_THROW(logbuf::make_async_logger("bad", spdlog::sink_ptr{}, o), std::invalid_argument);
    EXPECT_THROW(logbuf::make_async_logger("bad", std::vector<spdlog::sink_ptr>{sink, nullptr}, o),
                 std::invalid_argument);
    EXPECT_EQ(spdlog::get("bad"), nullptr);
}

TEST(SpdlogLifecycle, CapacityIsRoundedUp) {
    logbuf::async_options o;
    o.use_registry = false;
    o.capacity = 3000;
    auto log = logbuf::make_async_logger("round", std::make_shared<capture_sink>(), o);
    EXPECT_EQ(dynamic_cast<logbuf::async_logger&>(*log).capacity(), 4096u);
}

TEST(SpdlogLifecycle, DestructionWritesEverythingToTheFile) {
    temp_file file("destroy");
    constexpr int threads = 3, per_thread = 5000;
    {
        logbuf::async_options o;
        o.use_registry = false;
        o.capacity = 4096;  // a few dozen lines: the writers keep meeting a full ring
        auto log = logbuf::make_async_logger("destroy", file_sink(file), o);
        log_from_threads(*log, threads, per_thread);
    }  // no flush(): the destructor drains, flushes, joins
    expect_every_line(file.lines(), threads, per_thread);
}

TEST(SpdlogLifecycle, DestructionWhileTheBackendIsParked) {
    temp_file file("parked");
    {
        logbuf::async_options o;
        o.use_registry = false;
        o.idle_sleep = std::chrono::hours(1);  // only an explicit wake-up gets it out
        auto log = logbuf::make_async_logger("parked", file_sink(file), o);
        log->info("t0 i0");
        log->flush();
        // Let it park (a yield or two is enough for the spin phase to end;
        // the test holds either way: it only must not take an hour).
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        log->info("t0 i1");
    }
    expect_every_line(file.lines(), 1, 2);
}

TEST(SpdlogLifecycle, SpdlogDropWritesEverything) {
    temp_file file("drop");
    {
        auto log = logbuf::make_async_logger("dropped_logger", file_sink(file));
        log->set_pattern("%v");  // the registry gave it the global pattern
        log_from_threads(*log, 2, 3000);
    }  // only the registry holds it now
    ASSERT_NE(spdlog::get("dropped_logger"), nullptr);
    spdlog::drop("dropped_logger");  // the last reference: drain, flush, join
    expect_every_line(file.lines(), 2, 3000);
}

TEST(SpdlogLifecycle, SpdlogShutdownWritesEverything) {
    temp_file a("shutdown_a"), b("shutdown_b");
    {
        auto la = logbuf::make_async_logger("shutdown_a", file_sink(a));
        auto lb = logbuf::make_async_logger("shutdown_b", file_sink(b));
        la->set_pattern("%v");  // the registry gave them the global pattern
        lb->set_pattern("%v");
        std::thread other([&] { log_from_threads(*lb, 2, 2000); });
        log_from_threads(*la, 2, 2000);
        other.join();
    }
    spdlog::shutdown();
    expect_every_line(a.lines(), 2, 2000);
    expect_every_line(b.lines(), 2, 2000);
}

TEST(SpdlogLifecycle, FlushGivesUpOnAStuckSinkAndSaysSo) {
    auto gate = std::make_shared<gate_sink>();
    logbuf::async_options o;
    o.use_registry = false;
    o.flush_timeout = std::chrono::milliseconds(50);
    auto log = logbuf::make_async_logger("stuck", gate, o);
    std::atomic<int> timeouts{0};
    log->set_error_handler([&](const std::string& what) {
        // Relaxed: the handler runs on the backend thread (the give-up is
        // reported once it moves again, never under the caller's locks);
        // the second flush() below orders it before our reads.
        if (what.find("flush() of logger 'stuck' stopped waiting") != std::string::npos)
            timeouts.fetch_add(1, std::memory_order_relaxed);
    });
    log->info("held at the gate");
    const auto start = std::chrono::steady_clock::now();
    log->flush();  // returns after ~50 ms without progress instead of hanging
    EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(50));
    EXPECT_EQ(timeouts.load(std::memory_order_relaxed), 0);
    gate->open();
    log->info("second");
    log->flush();  // the backend is free again: a real flush
    EXPECT_EQ(gate->size(), 2u);
    EXPECT_EQ(timeouts.load(std::memory_order_relaxed), 1);
}

// The last shared_ptr goes while the ring is full and the backend stuck in a
// sink: the retire record does not fit, the logger is deleted once the
// backend has written its records, with the drop warning it owes.
TEST(SpdlogLifecycle, ALoggerDestroyedOnAFullRingGoesOnceItsRecordsAreWritten) {
    auto gate = std::make_shared<gate_sink>();
    logbuf::async_options o;
    o.use_registry = false;
    o.capacity = logbuf::min_async_capacity;
    o.overflow = logbuf::overflow_policy::drop;
    o.flush_timeout = std::chrono::milliseconds(20);
    auto log = logbuf::make_async_logger("orphan", gate, o);
    log->info("held at the gate");
    for (int i = 0; i < 2000 && !gate->holding(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    ASSERT_TRUE(gate->holding());
    int calls = 1;
    for (; calls < 200; ++calls)
        log->info("filler line {}", calls);
    const std::uint64_t dropped = std::static_pointer_cast<logbuf::async_logger>(log)->dropped();
    ASSERT_GT(dropped, 0u);          // the ring is full
    log.reset();                     // gives up after 20 ms: no room for its retire record
    EXPECT_GT(gate.use_count(), 1);  // the logger (and so the sink) is still there
    gate->open();
    for (int i = 0; i < 5000 && gate.use_count() > 1; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    ASSERT_EQ(gate.use_count(), 1);  // deleted by the backend
    const auto lines = gate->payloads();
    ASSERT_EQ(lines.size(), static_cast<std::size_t>(calls) - dropped + 1);
    EXPECT_EQ(lines.front(), "held at the gate");
    const std::string warning = "dropped " + std::to_string(dropped) + " message";
    EXPECT_EQ(std::count_if(lines.begin(), lines.end(),
                            [&](const std::string& l) { return l.find(warning) != l.npos; }),
              1);
}

TEST(SpdlogLifecycle, ThreadHooksRunOnTheBackendThread) {
    std::atomic<int> started{0}, stopped{0};
    std::thread::id backend;
    {
        logbuf::async_options o;
        o.use_registry = false;
        o.on_thread_start = [&] {
            backend = std::this_thread::get_id();
            // Relaxed (both hooks): read after flush() or after the join in
            // the logger's destructor, each of which orders the hook's run.
            started.fetch_add(1, std::memory_order_relaxed);
        };
        o.on_thread_stop = [&] { stopped.fetch_add(1, std::memory_order_relaxed); };
        auto log = logbuf::make_async_logger("hooks", std::make_shared<capture_sink>(), o);
        log->info("x");
        log->flush();  // the start hook ran before the backend took the first record
        EXPECT_EQ(started.load(std::memory_order_relaxed), 1);
        EXPECT_NE(backend, std::this_thread::get_id());
        EXPECT_EQ(stopped.load(std::memory_order_relaxed), 0);
    }
    EXPECT_EQ(stopped.load(std::memory_order_relaxed), 1);
}

}  // namespace
