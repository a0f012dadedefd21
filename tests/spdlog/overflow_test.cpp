// What happens when the ring is too small: a message larger than the ring is
// cut with a marker; overflow_policy::drop counts and reports what it drops;
// overflow_policy::block loses nothing.
#include "test_sinks.hpp"

#include <logbuf/spdlog.hpp>

#include <spdlog/spdlog.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

namespace {

using logbuf_test::capture_sink;
using logbuf_test::gate_sink;

logbuf::async_options small_ring(logbuf::overflow_policy policy) {
    logbuf::async_options o;
    o.use_registry = false;
    o.capacity = logbuf::min_async_capacity;
    o.overflow = policy;
    return o;
}

TEST(SpdlogOverflow, AMessageLargerThanTheRingIsCutWithAMarker) {
    auto sink = std::make_shared<capture_sink>();
    auto log = logbuf::make_async_logger("huge", sink, small_ring(logbuf::overflow_policy::block));
    const std::string big(5000, 'x');
    log->info("{}", big);
    log->info("small after");
    log->flush();
    const auto lines = sink->lines();
    ASSERT_EQ(lines.size(), 2u);
    const std::regex marker(R"(^(x+)\.\.\.\[truncated (\d+) bytes\]$)");
    std::smatch m;
    ASSERT_TRUE(std::regex_match(lines[0], m, marker)) << lines[0].substr(0, 80);
    EXPECT_EQ(m[1].length() + std::stol(m[2].str()), 5000);
    EXPECT_LT(lines[0].size(), logbuf::min_async_capacity);
    EXPECT_EQ(lines[1], "small after");
}

TEST(SpdlogOverflow, DropCountsAndTheBackendReportsTheCount) {
    auto gate = std::make_shared<gate_sink>();
    auto log =
        logbuf::make_async_logger("dropper", gate, small_ring(logbuf::overflow_policy::drop));
    auto& async = dynamic_cast<logbuf::async_logger&>(*log);

    log->info("first");  // the backend takes it and waits at the gate
    while (!gate->holding())
        std::this_thread::yield();
    constexpr int n = 200;  // ~64 bytes each: far more than a 1 KiB ring holds
    for (int i = 0; i < n; ++i)
        log->info("message {:04}", i);  // never waits
    const std::uint64_t dropped = async.dropped();
    EXPECT_GT(dropped, 0u);
    EXPECT_LT(dropped, std::uint64_t{n});
    gate->open();
    log->flush();

    // Every message is either written or counted in a warning line.
    const auto payloads = gate->payloads();
    std::uint64_t written = 0, reported = 0;
    const std::regex warning(
        R"(^logbuf: ring full, dropped (\d+) messages? \(overflow_policy::drop\)$)");
    for (const auto& p : payloads) {
        std::smatch m;
        if (std::regex_match(p, m, warning))
            reported += std::stoull(m[1].str());
        else if (p.rfind("message ", 0) == 0)
            ++written;
    }
    EXPECT_EQ(reported, dropped);
    EXPECT_EQ(written + reported, std::uint64_t{n});
    EXPECT_EQ(async.dropped(), dropped);  // nothing dropped since
}

TEST(SpdlogOverflow, BlockLosesNothingThroughATinyRing) {
    auto sink = std::make_shared<capture_sink>();
    auto log =
        logbuf::make_async_logger("blocker", sink, small_ring(logbuf::overflow_policy::block));
    constexpr int threads = 3, per_thread = 3000;
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
        pool.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i)
                log->info("t{} i{}", t, i);
        });
    for (auto& th : pool)
        th.join();
    log->flush();
    EXPECT_EQ(sink->size(), std::size_t{threads * per_thread});
    EXPECT_EQ(dynamic_cast<logbuf::async_logger&>(*log).dropped(), 0u);
}

// A sink that logs through the logger it belongs to runs on the backend
// thread; with a full ring it cannot wait for itself. It must not deadlock:
// what does not fit is counted as dropped and reported.
class echo_sink final : public spdlog::sinks::base_sink<std::mutex> {
  public:
    spdlog::logger* target = nullptr;
    std::size_t seen = 0;

  protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        ++seen;
        const std::string_view text(msg.payload.data(), msg.payload.size());
        if (text.rfind("echo", 0) != 0 && text.rfind("logbuf:", 0) != 0)
            for (int i = 0; i < 8; ++i)
                target->info("echo {}", std::string(100, 'e'));
    }
    void flush_() override {}
};

TEST(SpdlogOverflow, LoggingFromInsideASinkDoesNotDeadlock) {
    auto sink = std::make_shared<echo_sink>();
    auto log = logbuf::make_async_logger("echo", sink, small_ring(logbuf::overflow_policy::block));
    sink->target = log.get();
    for (int i = 0; i < 100; ++i)
        log->info("m{}", i);
    log->flush();
    log->flush();  // the echoes of the last messages, too
    EXPECT_GE(sink->seen, 100u);
}

TEST(SpdlogOverflow, LoggingFromASinkWhileEverySenderSlotIsHeldDoesNotDeadlock) {
    // More threads than the logger has sender slots (at most 64) block on a
    // full ring, each holding a slot or waiting for one, while the backend is
    // held in a sink; when the sink is let go it logs through its own logger.
    // It must not wait for a slot (their holders wait for it): the message is
    // dropped and counted, and everything else is written.
    auto gate = std::make_shared<gate_sink>();
    auto log = logbuf::make_async_logger("slots", gate, small_ring(logbuf::overflow_policy::block));
    spdlog::logger* raw = log.get();
    gate->after_open = [raw] { raw->info("from inside the sink"); };
    log->info("first");  // the backend takes it and waits at the gate
    while (!gate->holding())
        std::this_thread::yield();

    constexpr int threads = 72;
    std::atomic<int> entered{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
        pool.emplace_back([&, t] {
            // Relaxed: a rough start signal; the joins below order the rest.
            entered.fetch_add(1, std::memory_order_relaxed);
            log->info("t{:02} {}", t, std::string(150, 'p'));
        });
    while (entered.load(std::memory_order_relaxed) < threads)
        std::this_thread::yield();
    for (int i = 0; i < 1000; ++i)  // give the last ones time to reach a slot
        std::this_thread::yield();
    gate->open();
    for (auto& th : pool)
        th.join();
    log->flush();

    const auto dropped = dynamic_cast<logbuf::async_logger&>(*log).dropped();
    std::size_t from_threads = 0, from_sink = 0;
    for (const auto& p : gate->payloads()) {
        if (p.size() > 150 && p[0] == 't') ++from_threads;
        if (p == "from inside the sink") ++from_sink;
    }
    EXPECT_EQ(from_threads, std::size_t{threads});  // block: nothing of theirs lost
    EXPECT_EQ(from_sink + dropped, 1u);             // written, or dropped and counted
}

}  // namespace
