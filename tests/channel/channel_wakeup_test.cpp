// No lost wake-ups, measured: hundreds of trials in which notify() lands
// before the receiver parks (it is still spinning), around the moment it
// parks, and after it has parked. The delay from commit + notify() to recv()
// returning must be far below the park timeout: a lost wake-up would cost a
// whole park timeout.
#include "channel_test_util.hpp"

#include <logbuf/channel/mpsc.hpp>
#include <logbuf/channel/spsc.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using logbuf::errc;

template <class Flavour>
class ChannelWakeup : public ::testing::Test {};
TYPED_TEST_SUITE(ChannelWakeup, channel_test::flavours);

void busy_wait(clock_type::duration d) {
    const auto until = clock_type::now() + d;
    while (clock_type::now() < until) {
    }
}

TYPED_TEST(ChannelWakeup, NotifyWakesReceiverBeforeDuringAndAfterParking) {
    constexpr auto park_timeout = 400ms;
    const int trials = 300 / (channel_test::sanitizer_divisor > 1 ? 2 : 1);

    auto [tx, rx] = TypeParam::make(4096);
    rx.set_park_timeout(park_timeout);

    std::atomic<int> ready{-1};  // the trial the receiver is now waiting for
    std::vector<clock_type::duration> delays;
    delays.reserve(static_cast<std::size_t>(trials));
    logbuf::channel::parking_stats stats;

    std::thread receiver([&, &rx = rx] {
        for (int i = 0; i < trials; ++i) {
            ready.store(i, std::memory_order_release);
            auto r = rx.recv();
            const auto woke = clock_type::now();
            ASSERT_TRUE(r) << logbuf::to_string(r.error());
            ASSERT_EQ(r.size(), sizeof(clock_type::rep));
            clock_type::rep sent_at = 0;
            std::memcpy(&sent_at, r.data(), sizeof sent_at);
            delays.push_back(woke - clock_type::time_point(clock_type::duration(sent_at)));
        }
        stats = rx.parking();
    });

    std::mt19937 rng(12345);
    std::uniform_int_distribution<int> around_park_us(0, 300);
    for (int i = 0; i < trials; ++i) {
        while (ready.load(std::memory_order_acquire) != i)
            std::this_thread::yield();
        switch (i % 3) {
            case 0:  // receiver is still polling / spinning
                break;
            case 1:  // somewhere in spin -> yield -> publish "waiting" -> futex_wait
                busy_wait(std::chrono::microseconds(around_park_us(rng)));
                break;
            default:  // receiver is asleep in the kernel
                std::this_thread::sleep_for(3ms);
                break;
        }
        auto c = tx.send(sizeof(clock_type::rep));
        ASSERT_TRUE(c);
        const clock_type::rep now = clock_type::now().time_since_epoch().count();
        std::memcpy(c.data(), &now, sizeof now);
        c.commit();
        tx.notify();
    }
    receiver.join();
    ASSERT_EQ(delays.size(), static_cast<std::size_t>(trials));

    std::sort(delays.begin(), delays.end());
    const auto at = [&](double q) {
        return delays[static_cast<std::size_t>(q * static_cast<double>(delays.size() - 1))];
    };
    const auto us = [](clock_type::duration d) {
        return std::chrono::duration<double, std::micro>(d).count();
    };
    std::printf(
        "wake-up delay over %d trials: p50 %.1f us, p90 %.1f us, p99 %.1f us, max %.1f us;"
        " %llu parks\n",
        trials, us(at(0.5)), us(at(0.9)), us(at(0.99)), us(delays.back()),
        static_cast<unsigned long long>(stats.parks));
    // Generous: a lost wake-up costs a whole park timeout (400 ms); a working
    // wake-up costs tens of microseconds, a few ms on a loaded machine.
    EXPECT_LT(at(0.99), park_timeout / 4);
    EXPECT_GE(stats.parks, static_cast<std::uint64_t>(trials / 3))
        << "the receiver rarely parked: the test did not exercise the parker";
}

}  // namespace
