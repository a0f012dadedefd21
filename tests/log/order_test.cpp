// Order: each thread's lines in its call order; across threads, timestamp
// order; nothing lost with several threads and small rings.
#include "capture_sink.hpp"

#include <spdlog/sinks/base_sink.h>

#include <logbuf/log.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace {

using logbuf_test::capture_sink;

TEST(order, per_thread_order_and_counts_with_many_threads) {
    auto sink = std::make_shared<capture_sink>();
    auto log = logbuf::log::make_logger("mt", sink, {.ring_capacity = 8192});
    constexpr int threads = 4, per_thread = 5000;
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
        pool.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i)
                log->info("{} {} {}", t, i, std::string(static_cast<std::size_t>(i % 40), 'p'));
        });
    for (auto& th : pool)
        th.join();
    log->flush();
    const auto lines = sink->lines();
    ASSERT_EQ(lines.size(), std::size_t{threads} * per_thread);
    std::map<int, int> next;
    std::map<int, std::size_t> thread_of;
    for (const auto& l : lines) {
        int t = -1, i = -1;
        ASSERT_EQ(std::sscanf(l.text.c_str(), "%d %d", &t, &i), 2) << l.text;
        ASSERT_EQ(i, next[t]) << "thread " << t;
        ++next[t];
        // Each writer's lines carry its own thread id.
        auto [it, fresh] = thread_of.emplace(t, l.thread_id);
        ASSERT_EQ(it->second, l.thread_id);
        const auto expect =
            fmt::format("{} {} {}", t, i, std::string(static_cast<std::size_t>(i % 40), 'p'));
        ASSERT_EQ(l.text, expect);
    }
    EXPECT_EQ(log->dropped(), 0u);
}

// Holds the backend inside its first write until opened, so that every
// line logged meanwhile is committed before the backend looks at any ring.
class gate_sink final : public spdlog::sinks::base_sink<std::mutex> {
  public:
    std::atomic<bool> entered{false};
    std::atomic<bool> open{false};
    std::vector<std::string> texts;  // read after flush()

  protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        if (!entered.exchange(true, std::memory_order_acq_rel))
            while (!open.load(std::memory_order_acquire))
                std::this_thread::yield();
        texts.emplace_back(msg.payload.data(), msg.payload.size());
    }
    void flush_() override {}
};

TEST(order, across_threads_lines_come_out_in_timestamp_order) {
    auto sink = std::make_shared<gate_sink>();
    auto log = logbuf::log::make_logger("ts", sink);
    log->info("gate");
    while (!sink->entered.load(std::memory_order_acquire))
        std::this_thread::yield();
    // The backend is stuck in the gate line. Two threads take turns
    // strictly (a token passed through an atomic): each line is logged
    // after the other thread's previous one returned.
    std::atomic<int> turn{0};
    constexpr int rounds = 2000;
    auto player = [&](int me) {
        for (int i = 0; i < rounds; ++i) {
            while (turn.load(std::memory_order_acquire) != 2 * i + me)
                std::this_thread::yield();
            log->info("{}", 2 * i + me);
            turn.store(2 * i + me + 1, std::memory_order_release);
        }
    };
    std::thread a(player, 0), b(player, 1);
    a.join();
    b.join();
    sink->open.store(true, std::memory_order_release);
    log->flush();
    ASSERT_EQ(sink->texts.size(), std::size_t{2 * rounds + 1});
    EXPECT_EQ(sink->texts[0], "gate");
    for (int i = 0; i < 2 * rounds; ++i)
        ASSERT_EQ(sink->texts[static_cast<std::size_t>(i) + 1], std::to_string(i));
}

TEST(order, printed_times_never_go_backwards) {
    auto sink = std::make_shared<capture_sink>();
    auto log = logbuf::log::make_logger("times", sink);
    std::vector<std::thread> pool;
    for (int t = 0; t < 3; ++t)
        pool.emplace_back([&] {
            for (int i = 0; i < 3000; ++i)
                log->info("{}", i);
        });
    for (auto& th : pool)
        th.join();
    log->flush();
    const auto lines = sink->lines();
    ASSERT_EQ(lines.size(), 9000u);
    for (std::size_t i = 1; i < lines.size(); ++i)
        ASSERT_LE(lines[i - 1].time, lines[i].time) << i;
}

TEST(order, one_thread_through_two_loggers_keeps_its_order_in_a_shared_sink) {
    auto sink = std::make_shared<capture_sink>();
    auto a = logbuf::log::make_logger("a", sink);
    auto b = logbuf::log::make_logger("b", sink);
    for (int i = 0; i < 1000; ++i)
        (i % 3 == 0 ? a : b)->info("{}", i);
    b->flush();
    const auto texts = sink->texts();
    ASSERT_EQ(texts.size(), 1000u);
    for (int i = 0; i < 1000; ++i)
        ASSERT_EQ(texts[static_cast<std::size_t>(i)], std::to_string(i));
}

TEST(order, flush_from_another_thread_covers_everything_logged_before_it) {
    auto sink = std::make_shared<capture_sink>();
    auto log = logbuf::log::make_logger("flush", sink);
    for (int round = 0; round < 20; ++round) {
        std::atomic<bool> logged{false};
        std::thread writer([&] {
            for (int i = 0; i < 100; ++i)
                log->info("{} {}", round, i);
            logged.store(true, std::memory_order_release);
        });
        while (!logged.load(std::memory_order_acquire)) {
        }
        log->flush();  // the writer's lines happened before: all in the sink now
        ASSERT_EQ(sink->lines().size(), std::size_t(100 * (round + 1)));
        writer.join();
    }
}

}  // namespace
