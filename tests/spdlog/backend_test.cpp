// The shared backend (lib/backend.hpp) with sources made up for the test:
// merge order across sources, flush requests and their no-progress rule,
// retirement, timers, many producers.
#include "backend.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace {

using logbuf::details::backend;
using logbuf::details::backend_source;
using logbuf::details::backend_time;

// What the sources wrote, in the order the backend wrote it.
struct journal {
    std::mutex mutex;
    std::vector<std::pair<int, std::int64_t>> lines;  // (source id, value)
    std::vector<std::pair<int, std::int64_t>> take() {
        const std::lock_guard<std::mutex> lock(mutex);
        return lines;
    }
};

// A "ring" behind a mutex: push() commits (stamp, value).
class test_source final : public backend_source {
  public:
    test_source(int id, journal& out) : id_(id), out_(out) {}

    void push(backend_time stamp, std::int64_t value) {
        const std::lock_guard<std::mutex> lock(mutex_);
        ring_.emplace_back(stamp, value);
    }
    void retire() { retiring_.store(true); }
    // write_next() waits while held.
    void hold(bool on) { held_.store(on); }
    int timer_calls() const { return timer_calls_.load(); }
    void set_timer(std::chrono::milliseconds period) { period_ = period; }

    std::optional<backend_time> peek() noexcept override {
        const std::lock_guard<std::mutex> lock(mutex_);
        if (ring_.empty()) return std::nullopt;
        return ring_.front().first;
    }
    void write_next() noexcept override {
        while (held_.load())
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        std::pair<backend_time, std::int64_t> r;
        {
            const std::lock_guard<std::mutex> lock(mutex_);
            r = ring_.front();
            ring_.pop_front();
        }
        const std::lock_guard<std::mutex> lock(out_.mutex);
        out_.lines.emplace_back(id_, r.second);
    }
    bool retired() noexcept override {
        const std::lock_guard<std::mutex> lock(mutex_);
        return retiring_.load() && ring_.empty();
    }
    std::chrono::steady_clock::time_point on_timer(
        std::chrono::steady_clock::time_point now) noexcept override {
        if (period_ == std::chrono::milliseconds::zero())
            return std::chrono::steady_clock::time_point::max();
        ++timer_calls_;
        return now + period_;
    }
    void after_fork_in_child() noexcept override {
        const std::lock_guard<std::mutex> lock(mutex_);
        ring_.clear();
    }

  private:
    const int id_;
    journal& out_;
    std::mutex mutex_;
    std::deque<std::pair<backend_time, std::int64_t>> ring_;
    std::atomic<bool> retiring_{false};
    std::atomic<bool> held_{false};
    std::atomic<int> timer_calls_{0};
    std::chrono::milliseconds period_{0};
};

TEST(Backend, WritesInTimestampOrderAcrossSources) {
    journal out;
    auto a = std::make_shared<test_source>(1, out);
    auto b = std::make_shared<test_source>(2, out);
    a->hold(true);  // nothing is written until both sources hold their records
    backend::instance().add(a);
    backend::instance().add(b);
    for (std::int64_t i = 0; i < 100; ++i) {
        (i % 3 == 0 ? b : a)->push(1000 + i, i);
    }
    a->hold(false);
    ASSERT_TRUE(backend::instance().flush());
    const auto lines = out.take();
    ASSERT_EQ(lines.size(), 100u);
    for (std::int64_t i = 0; i < 100; ++i) {
        EXPECT_EQ(lines[static_cast<std::size_t>(i)].second, i);
        EXPECT_EQ(lines[static_cast<std::size_t>(i)].first, i % 3 == 0 ? 2 : 1);
    }
    a->retire();
    b->retire();
}

TEST(Backend, FlushRunsItsCallbackOnTheBackendAfterTheRecords) {
    journal out;
    auto a = std::make_shared<test_source>(1, out);
    backend::instance().add(a);
    for (std::int64_t i = 0; i < 10; ++i)
        a->push(i, i);
    std::size_t seen = 0;
    bool on_backend = false;
    ASSERT_TRUE(backend::instance().flush([&] {
        seen = out.take().size();
        on_backend = backend::instance().on_backend_thread();
    }));
    EXPECT_EQ(seen, 10u);
    EXPECT_TRUE(on_backend);
    EXPECT_FALSE(backend::instance().on_backend_thread());
    a->retire();
}

TEST(Backend, RetiredSourcesAreDropped) {
    journal out;
    auto a = std::make_shared<test_source>(1, out);
    std::weak_ptr<test_source> watch = a;
    backend::instance().add(a);
    a->push(1, 1);
    a->retire();
    a.reset();
    ASSERT_TRUE(backend::instance().flush());
    ASSERT_TRUE(backend::instance().flush());  // the round after it was seen empty
    EXPECT_TRUE(watch.expired());
    EXPECT_EQ(out.take().size(), 1u);
}

TEST(Backend, FlushGivesUpWithoutProgressAndTheRecordsAreStillWritten) {
    journal out;
    auto a = std::make_shared<test_source>(1, out);
    backend::instance().add(a);
    a->hold(true);
    a->push(1, 1);
    const auto start = std::chrono::steady_clock::now();
    EXPECT_FALSE(backend::instance().flush({}, std::chrono::milliseconds(50)));
    EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(50));
    EXPECT_TRUE(out.take().empty());
    a->hold(false);
    EXPECT_TRUE(backend::instance().flush());
    EXPECT_EQ(out.take().size(), 1u);
    a->retire();
}

TEST(Backend, TimersRunPeriodically) {
    journal out;
    auto a = std::make_shared<test_source>(1, out);
    a->set_timer(std::chrono::milliseconds(1));
    backend::instance().add(a);
    for (int i = 0; i < 2000 && a->timer_calls() < 5; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    EXPECT_GE(a->timer_calls(), 5);
    a->retire();
}

TEST(Backend, ManyProducersKeepTheirOrderAndCount) {
    journal out;
    constexpr int producers = 4;
    constexpr std::int64_t each = 2000;
    std::vector<std::shared_ptr<test_source>> sources;
    for (int p = 0; p < producers; ++p) {
        sources.push_back(std::make_shared<test_source>(p, out));
        backend::instance().add(sources.back());
    }
    std::vector<std::thread> threads;
    for (int p = 0; p < producers; ++p)
        threads.emplace_back([&, p] {
            for (std::int64_t i = 0; i < each; ++i) {
                sources[static_cast<std::size_t>(p)]->push(
                    std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count(),
                    i);
                if (i % 64 == 0) backend::instance().wake();
            }
        });
    for (auto& t : threads)
        t.join();
    ASSERT_TRUE(backend::instance().flush());
    const auto lines = out.take();
    ASSERT_EQ(lines.size(), static_cast<std::size_t>(producers * each));
    std::vector<std::int64_t> next(producers, 0);
    for (const auto& [id, value] : lines)
        EXPECT_EQ(value, next[static_cast<std::size_t>(id)]++);
    for (auto& s : sources)
        s->retire();
}

TEST(Backend, ShutdownWritesEverythingAndTheBackendRestartsOnUse) {
    journal out;
    auto a = std::make_shared<test_source>(1, out);
    backend::instance().add(a);
    a->push(1, 1);
    EXPECT_TRUE(backend::instance().shutdown());
    EXPECT_EQ(out.take().size(), 1u);
    a->push(2, 2);
    EXPECT_TRUE(backend::instance().flush());
    EXPECT_EQ(out.take().size(), 2u);
    a->retire();
}

TEST(Backend, AShutdownThatGaveUpLeavesTheBackendRunning) {
    journal out;
    auto a = std::make_shared<test_source>(1, out);
    backend::instance().add(a);
    a->hold(true);
    a->push(1, 1);
    // The stop request cannot complete while the sink is stuck.
    EXPECT_FALSE(backend::instance().shutdown());
    a->hold(false);
    ASSERT_TRUE(backend::instance().flush());
    // Once the sink came back the backend must still be there for later records.
    a->push(2, 2);
    backend::instance().wake();
    EXPECT_TRUE(backend::instance().flush());
    EXPECT_EQ(out.take().size(), 2u);
    a->retire();
}

}  // namespace
