// details::parker on its own, in both fence modes: park_unless returns a
// ready poll() result without sleeping, honours its timeout, and is woken by
// notify() whether the notify lands while the receiver sleeps or in the
// window between publishing "waiting" and the futex wait.
#include <logbuf/channel/details/parker.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string_view>
#include <thread>

namespace {

using namespace std::chrono_literals;
using logbuf::channel::fence_mode;
using logbuf::channel::details::parker;
using clock_type = std::chrono::steady_clock;

class Parker : public ::testing::TestWithParam<fence_mode> {};

INSTANTIATE_TEST_SUITE_P(Modes, Parker,
                         ::testing::Values(fence_mode::membarrier, fence_mode::fences),
                         [](const auto& param_info) {
                             return param_info.param == fence_mode::membarrier ? "membarrier"
                                                                               : "fences";
                         });

// Under TSan, and when LOGBUF_NO_MEMBARRIER is set (ctest runs the
// concurrent tests a second time that way), the process uses fences.
TEST(ParkerMode, ProcessModeHonoursTsanAndEnvironment) {
    const fence_mode mode = logbuf::channel::details::process_fence_mode();
    const char* no_membarrier = std::getenv("LOGBUF_NO_MEMBARRIER");
#if defined(LOGBUF_UNDER_TSAN)
    EXPECT_EQ(mode, fence_mode::fences);
#endif
    if (no_membarrier != nullptr && std::string_view(no_membarrier) == "1") {
        EXPECT_EQ(mode, fence_mode::fences);
    }
    std::printf("process fence mode: %s\n",
                mode == fence_mode::membarrier ? "membarrier" : "fences");
}

TEST_P(Parker, FallsBackToFencesWhenProcessHasNoMembarrier) {
    parker p(GetParam());
    if (logbuf::channel::details::process_fence_mode() == fence_mode::fences)
        EXPECT_EQ(p.mode(), fence_mode::fences);
    else
        EXPECT_EQ(p.mode(), GetParam());
}

TEST_P(Parker, ReadyPollReturnsWithoutSleeping) {
    parker p(GetParam());
    const auto start = clock_type::now();
    const std::optional<int> r = p.park_unless([] { return std::optional<int>(7); }, 10s);
    EXPECT_LT(clock_type::now() - start, 5s);
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, 7);
}

TEST_P(Parker, TimesOutWithoutNotify) {
    parker p(GetParam());
    const auto start = clock_type::now();
    const std::optional<int> r = p.park_unless([] { return std::optional<int>(); }, 20ms);
    const auto elapsed = clock_type::now() - start;
    EXPECT_FALSE(r);
    EXPECT_GE(elapsed, 15ms);  // futex timeouts may end a little early on some clocks
    EXPECT_LT(elapsed, 5s);
}

TEST_P(Parker, NotifyWithNobodyParkedIsHarmless) {
    parker p(GetParam());
    for (int i = 0; i < 1000; ++i)
        p.notify();
    // And the next park still sleeps until its timeout (no stale wake pending).
    const auto start = clock_type::now();
    (void)p.park_unless([] { return std::optional<int>(); }, 20ms);
    EXPECT_GE(clock_type::now() - start, 15ms);
}

// The notify lands between "waiting" being published and the futex wait: the
// receiver's poll has already looked (and found nothing) when the sender
// publishes and notifies. The futex wait must then not sleep.
TEST_P(Parker, NotifyBetweenPublishAndSleepIsNotLost) {
    parker p(GetParam());
    std::atomic<int> phase{0};  // 1: receiver polled inside park_unless; 2: sender notified
    std::thread sender([&] {
        while (phase.load(std::memory_order_acquire) != 1)
            std::this_thread::yield();
        p.notify();
        phase.store(2, std::memory_order_release);
    });
    const auto start = clock_type::now();
    const std::optional<int> r = p.park_unless(
        [&] {
            phase.store(1, std::memory_order_release);
            while (phase.load(std::memory_order_acquire) != 2)
                std::this_thread::yield();
            return std::optional<int>();  // "saw nothing": the record came too late
        },
        30s);
    const auto elapsed = clock_type::now() - start;
    sender.join();
    EXPECT_FALSE(r);
    EXPECT_LT(elapsed, 10s) << "the wake-up was lost: slept until the timeout";
}

// The notify lands while the receiver is asleep in the kernel.
TEST_P(Parker, NotifyWakesSleepingReceiver) {
    parker p(GetParam());
    std::atomic<bool> published{false};
    std::thread sender([&] {
        std::this_thread::sleep_for(20ms);
        published.store(true, std::memory_order_release);
        p.notify();
    });
    const auto start = clock_type::now();
    bool got = false;
    while (!got) {
        got = p.park_unless(
                   [&] {
                       return published.load(std::memory_order_acquire) ? std::optional<int>(1)
                                                                        : std::optional<int>();
                   },
                   30s)
                  .has_value() ||
              published.load(std::memory_order_acquire);
    }
    const auto elapsed = clock_type::now() - start;
    sender.join();
    EXPECT_LT(elapsed, 10s) << "woken by the timeout, not by notify()";
}

}  // namespace
