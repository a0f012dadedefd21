// Regression tests for the spdlog adapter on the shared backend, one per
// problem found by spdlog's own tests and fault probes:
//  1. a sink or error handler calling spdlog::get while spdlog::drop,
//     drop_all or shutdown holds the registry mutex (deadlocked);
//  2. periodic flushing that holds the registry mutex;
//  3. a logger and its clone losing their order in a shared sink;
//  4. a backend thread per logger;
//  5. the factory ignoring spdlog::init_thread_pool's queue size;
//  6. long messages dropped under overflow_policy::drop;
//  7. spdlog's compiled logger functions not linking with logbuf's factories.
// (9, fork, is in fork_test.cpp.)
#include "test_sinks.hpp"

#include <logbuf/spdlog.hpp>

#include <spdlog/async.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <gtest/gtest.h>

#include <atomic>
#include <bit>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

using logbuf_test::capture_sink;
using namespace std::chrono_literals;

// Waits (bounded) until pred() holds; the bound only keeps a bug from
// hanging the suite.
bool eventually(const std::function<bool()>& pred) {
    for (int i = 0; i < 10'000; ++i) {
        if (pred()) return true;
        std::this_thread::sleep_for(1ms);
    }
    return pred();
}

// Calls spdlog::get on every message, after a pause that lets the test's
// thread take the registry mutex first: the "report to a fallback logger"
// sink. Optionally throws instead, so that the error handler does the get.
class registry_sink final : public spdlog::sinks::base_sink<std::mutex> {
  public:
    explicit registry_sink(bool throw_instead) : throw_(throw_instead) {}
    std::atomic<int> entered{0};
    std::atomic<int> written{0};

  protected:
    void sink_it_(const spdlog::details::log_msg&) override {
        entered.fetch_add(1);
        std::this_thread::sleep_for(20ms);
        if (throw_) throw std::runtime_error("fallback please");
        (void)spdlog::get("fallback");
        written.fetch_add(1);
    }
    void flush_() override {}

  private:
    const bool throw_;
};

enum class teardown { drop, drop_all, shutdown };

void registry_call_does_not_deadlock(teardown how, bool from_error_handler) {
    auto fallback = spdlog::create<spdlog::sinks::null_sink_mt>("fallback");
    auto sink = std::make_shared<registry_sink>(from_error_handler);
    // Shared, not on this stack: the backend may still report the give-up
    // through the handler after the lines are counted.
    auto handled = std::make_shared<std::atomic<int>>(0);
    {
        logbuf::async_options o;
        o.use_registry = false;
        auto log = logbuf::make_async_logger("registered", sink, o);
        log->set_error_handler([handled](const std::string&) {
            (void)spdlog::get("fallback");
            handled->fetch_add(1);
        });
        spdlog::register_logger(log);
        for (int i = 0; i < 3; ++i)
            log->info("line {}", i);
        ASSERT_TRUE(eventually([&] { return sink->entered.load() > 0; }));
    }  // the registry holds the last reference
    switch (how) {
        case teardown::drop:
            spdlog::drop("registered");
            break;
        case teardown::drop_all:
            spdlog::drop_all();
            break;
        case teardown::shutdown:
            spdlog::shutdown();
            break;
    }
    // Returned (the destructor gave up waiting under the mutex); the backend
    // then wrote every line and reported the give-up.
    if (from_error_handler)
        EXPECT_TRUE(eventually([&] { return handled->load() >= 3; }));
    else
        EXPECT_TRUE(eventually([&] { return sink->written.load() == 3; }));
    // The backend deletes the logger (dropping its sink reference) after its
    // last record and any report: only then may this frame go.
    EXPECT_TRUE(eventually([&] { return sink.use_count() == 1; }));
    spdlog::drop_all();
}

TEST(SpdlogRegistry, SinkCallingGetDuringDrop) {
    registry_call_does_not_deadlock(teardown::drop, false);
}
TEST(SpdlogRegistry, SinkCallingGetDuringDropAll) {
    registry_call_does_not_deadlock(teardown::drop_all, false);
}
TEST(SpdlogRegistry, SinkCallingGetDuringShutdown) {
    registry_call_does_not_deadlock(teardown::shutdown, false);
}
TEST(SpdlogRegistry, ErrorHandlerCallingGetDuringDrop) {
    registry_call_does_not_deadlock(teardown::drop, true);
}
TEST(SpdlogRegistry, ErrorHandlerCallingGetDuringShutdown) {
    registry_call_does_not_deadlock(teardown::shutdown, true);
}

// A sink whose flush is slow.
class slow_flush_sink final : public spdlog::sinks::base_sink<std::mutex> {
  public:
    std::atomic<int> flushes{0};

  protected:
    void sink_it_(const spdlog::details::log_msg&) override {}
    void flush_() override {
        std::this_thread::sleep_for(200ms);
        flushes.fetch_add(1);
    }
};

TEST(SpdlogRegistry, FlushEveryFlushesWithoutHoldingTheRegistry) {
    auto sink = std::make_shared<slow_flush_sink>();
    logbuf::async_options o;
    o.flush_every = 5ms;
    auto log = logbuf::make_async_logger("periodic", sink, o);  // registered
    auto worst = std::chrono::steady_clock::duration::zero();
    for (int i = 0; i < 3; ++i) {
        log->info("line {}", i);
        // While the backend sits in the slow flush, the registry is free.
        ASSERT_TRUE(eventually([&] { return sink->flushes.load() > i; }));
        for (int k = 0; k < 20; ++k) {
            const auto start = std::chrono::steady_clock::now();
            EXPECT_NE(spdlog::get("periodic"), nullptr);
            worst = std::max(worst, std::chrono::steady_clock::now() - start);
            std::this_thread::sleep_for(1ms);
        }
    }
    EXPECT_GE(sink->flushes.load(), 3);
    EXPECT_LT(worst, 150ms);  // a 200 ms flush would show; a mutex is microseconds
    log.reset();
    spdlog::drop("periodic");
    // The backend deletes the logger (and lets the sink go) once done.
    EXPECT_TRUE(eventually([&] { return sink.use_count() == 1; }));
}

TEST(SpdlogRegistry, SpdlogFlushEveryIsBoundedByTheNoProgressRule) {
    auto sink = std::make_shared<slow_flush_sink>();
    logbuf::async_options o;
    o.flush_timeout = 30ms;
    auto log = logbuf::make_async_logger("spdlog_periodic", sink, o);
    std::atomic<int> gave_up{0};
    log->set_error_handler([&](const std::string& what) {
        if (what.find("stopped waiting") != std::string::npos) gave_up.fetch_add(1);
    });
    log->info("x");
    // registry::flush_all calls our flush() under the registry mutex.
    const auto start = std::chrono::steady_clock::now();
    spdlog::details::registry::instance().flush_all();
    EXPECT_LT(std::chrono::steady_clock::now() - start, 190ms);  // not the 200 ms sink flush
    // Once the slow flush is over the backend reports the give-up.
    EXPECT_TRUE(eventually([&] { return gave_up.load() >= 1; }));
    log.reset();
    spdlog::drop("spdlog_periodic");
    EXPECT_TRUE(eventually([&] { return sink.use_count() == 1; }));
}

TEST(SpdlogClone, ALoggerAndItsCloneKeepOneThreadsOrder) {
    auto sink = std::make_shared<capture_sink>();
    logbuf::async_options o;
    o.use_registry = false;
    auto log = logbuf::make_async_logger("parent", sink, o);
    auto copy = log->clone("clone");
    constexpr int lines = 2000;
    for (int i = 0; i < lines; ++i)
        (i % 2 == 0 ? log : copy)->info("{}", i);
    log->flush();
    const auto got = sink->lines();
    ASSERT_EQ(got.size(), std::size_t{lines});
    for (int i = 0; i < lines; ++i)
        ASSERT_EQ(got[static_cast<std::size_t>(i)], std::to_string(i));
    const auto messages = sink->messages();
    EXPECT_EQ(messages[0].logger_name, "parent");
    EXPECT_EQ(messages[1].logger_name, "clone");
}

// Threads of this process named "logbuf backend".
int backend_threads() {
    int n = 0;
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
        std::ifstream comm(task.path() / "comm");
        std::string name;
        std::getline(comm, name);
        if (name == "logbuf backend") ++n;
    }
    return n;
}

TEST(SpdlogBackend, ThirtyLoggersShareOneBackendThread) {
    auto sink = std::make_shared<capture_sink>();
    logbuf::async_options o;
    o.use_registry = false;
    std::vector<std::shared_ptr<spdlog::logger>> loggers;
    for (int i = 0; i < 30; ++i) {
        loggers.push_back(logbuf::make_async_logger("l" + std::to_string(i), sink, o));
        loggers.back()->info("hello from {}", i);
    }
    for (auto& l : loggers)
        l->flush();
    EXPECT_EQ(sink->size(), 30u);
    EXPECT_EQ(backend_threads(), 1);
}

TEST(SpdlogFactory, HonoursInitThreadPoolsQueueSize) {
    const auto dir = std::filesystem::temp_directory_path();
    spdlog::init_thread_pool(64, 1);
    {
        auto log = spdlog::basic_logger_mt<logbuf::async_factory>(
            "pool64", (dir / ("logbuf_pool_" + std::to_string(::getpid()))).string(), true);
        auto* async = dynamic_cast<logbuf::async_logger*>(log.get());
        ASSERT_NE(async, nullptr);
        EXPECT_EQ(async->capacity(), std::bit_ceil(64 * logbuf::factory_bytes_per_message));
        spdlog::drop("pool64");
    }
    spdlog::init_thread_pool(100'000, 1);
    {
        auto log = spdlog::basic_logger_mt<logbuf::async_factory_nonblock>(
            "pool100k", (dir / ("logbuf_pool_" + std::to_string(::getpid()))).string(), true);
        auto* async = dynamic_cast<logbuf::async_logger*>(log.get());
        ASSERT_NE(async, nullptr);
        EXPECT_EQ(async->capacity(), std::bit_ceil(100'000 * logbuf::factory_bytes_per_message));
        EXPECT_EQ(async->options().overflow, logbuf::overflow_policy::drop);
        spdlog::drop("pool100k");
    }
    spdlog::details::registry::instance().set_tp(nullptr);
    std::filesystem::remove(dir / ("logbuf_pool_" + std::to_string(::getpid())));
}

TEST(SpdlogOverflowQuarter, LongMessagesOnAnIdleRingAreCutNeverDropped) {
    auto sink = std::make_shared<capture_sink>();
    logbuf::async_options o;
    o.use_registry = false;
    o.capacity = 1024;
    o.overflow = logbuf::overflow_policy::drop;
    auto log = logbuf::make_async_logger("quarter", sink, o);
    auto* async = dynamic_cast<logbuf::async_logger*>(log.get());
    for (int i = 0; i < 154; ++i) {
        log->info("{}", std::string(950, 'a'));
        log->flush();  // an idle ring before each message
    }
    EXPECT_EQ(async->dropped(), 0u);
    const auto lines = sink->lines();
    ASSERT_EQ(lines.size(), 154u);
    for (const auto& l : lines) {
        EXPECT_NE(l.find("...[truncated "), std::string::npos);
        EXPECT_LE(l.size() + 8 + 52, 1024u / 4);
    }
}

TEST(SpdlogOverflowQuarter, TwoHugeLinesInARowOnTheDefaultRingBothArrive) {
    auto sink = std::make_shared<capture_sink>();
    logbuf::async_options o;
    o.use_registry = false;
    o.overflow = logbuf::overflow_policy::drop;
    auto log = logbuf::make_async_logger("huge_pair", sink, o);
    log->info("{}", std::string(500'000, 'b'));
    log->info("{}", std::string(600'000, 'c'));
    log->flush();
    EXPECT_EQ(dynamic_cast<logbuf::async_logger&>(*log).dropped(), 0u);
    const auto lines = sink->lines();
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0][0], 'b');
    EXPECT_EQ(lines[1][0], 'c');
    EXPECT_NE(lines[1].find("...[truncated "), std::string::npos);
}

TEST(SpdlogFactory, EveryCompiledLoggerFunctionLinksWithLogbufsFactories) {
    std::vector<std::shared_ptr<spdlog::logger>> made{
        spdlog::stdout_color_mt<logbuf::async_factory>("f1"),
        spdlog::stdout_color_st<logbuf::async_factory>("f2"),
        spdlog::stderr_color_mt<logbuf::async_factory>("f3"),
        spdlog::stderr_color_st<logbuf::async_factory>("f4"),
        spdlog::stdout_logger_mt<logbuf::async_factory>("f5"),
        spdlog::stdout_logger_st<logbuf::async_factory>("f6"),
        spdlog::stderr_logger_mt<logbuf::async_factory>("f7"),
        spdlog::stderr_logger_st<logbuf::async_factory>("f8"),
        spdlog::stdout_color_mt<logbuf::async_factory_nonblock>("f9"),
        spdlog::stderr_logger_st<logbuf::async_factory_nonblock>("f10"),
    };
    for (const auto& l : made) {
        EXPECT_NE(dynamic_cast<logbuf::async_logger*>(l.get()), nullptr) << l->name();
        l->flush();
    }
    made.clear();
    spdlog::drop_all();
}

}  // namespace
