// Disconnection from both sides, also while the other side is blocked, and the
// race between the last commit and the last sender leaving.
#include "channel_test_util.hpp"

#include <logbuf/channel/mpsc.hpp>
#include <logbuf/channel/spsc.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;
using channel_test::send_text;
using channel_test::to_string;
using clock_type = std::chrono::steady_clock;
using logbuf::errc;

// Commits 8-byte records until the ring is full.
template <class Sender>
void fill(Sender& tx) {
    while (auto c = tx.try_send(8))
        c.commit();
}

template <class Flavour>
class ChannelDisconnect : public ::testing::Test {};
TYPED_TEST_SUITE(ChannelDisconnect, channel_test::flavours);

TYPED_TEST(ChannelDisconnect, RecordsSentBeforeTheLastSenderLeftAreStillReceived) {
    auto [tx, rx] = TypeParam::make(1024);
    for (int i = 0; i < 5; ++i)
        ASSERT_TRUE(send_text(tx, std::to_string(i)));
    { auto drop = std::move(tx); }
    EXPECT_TRUE(rx.is_disconnected());
    for (int i = 0; i < 5; ++i) {
        auto r = (i % 2 == 0) ? rx.recv() : rx.try_recv();
        ASSERT_TRUE(r) << i;
        EXPECT_EQ(to_string(r.bytes()), std::to_string(i));
    }
    EXPECT_EQ(rx.recv().error(), errc::disconnected);
    EXPECT_EQ(rx.try_recv().error(), errc::disconnected);
    EXPECT_EQ(rx.recv_for(10s).error(), errc::disconnected);
    EXPECT_EQ(rx.recv_for(0s).error(), errc::disconnected);
}

TYPED_TEST(ChannelDisconnect, DroppedReceiverFailsSends) {
    auto [tx, rx] = TypeParam::make(1024);
    EXPECT_FALSE(tx.is_disconnected());
    { auto drop = std::move(rx); }
    EXPECT_TRUE(tx.is_disconnected());
    EXPECT_EQ(tx.send(8).error(), errc::disconnected);
    EXPECT_EQ(tx.try_send(8).error(), errc::disconnected);
    tx.notify();  // harmless
}

// A receiver parked in recv() with a long park timeout wakes as soon as the
// last sender goes, not at the timeout.
TYPED_TEST(ChannelDisconnect, LastSenderLeavingWakesBlockedReceiver) {
    auto [tx, rx] = TypeParam::make(1024);
    rx.set_park_timeout(60s);
    std::atomic<long> receiver_tid{-1};
    clock_type::duration blocked{};
    logbuf::channel::parking_stats stats;
    std::thread receiver([&, &rx = rx] {
        receiver_tid.store(channel_test::current_tid(), std::memory_order_release);
        const auto start = clock_type::now();
        const auto r = rx.recv();
        blocked = clock_type::now() - start;
        stats = rx.parking();
        EXPECT_EQ(r.error(), errc::disconnected);
    });
    while (receiver_tid.load(std::memory_order_acquire) == -1)
        std::this_thread::yield();
    // Parked in its futex; on a busy machine its yield rounds can take a while.
    const bool asleep =
        channel_test::wait_until_asleep(receiver_tid.load(std::memory_order_relaxed), 5s);
    { auto drop = std::move(tx); }
    receiver.join();
    EXPECT_LT(blocked, 30s) << "slept until the park timeout";
    if (asleep) {
        EXPECT_GE(stats.parks, 1u);
    }
}

TYPED_TEST(ChannelDisconnect, ReceiverGoneStopsASenderWaitingOnAFullRing) {
    auto [tx, rx] = TypeParam::make(64);
    fill(tx);
    std::atomic<bool> started{false};
    errc result{};
    std::thread sender([&, &tx = tx] {
        started.store(true, std::memory_order_release);
        auto c = tx.send(8);  // spins/yields: the ring stays full
        result = c.error();
        EXPECT_FALSE(c);
    });
    while (!started.load(std::memory_order_acquire))
        std::this_thread::yield();
    std::this_thread::sleep_for(20ms);
    { auto drop = std::move(rx); }
    sender.join();
    EXPECT_EQ(result, errc::disconnected);
}

TYPED_TEST(ChannelDisconnect, SenderWaitingOnAFullRingGetsSpaceWhenReceiverReads) {
    auto [tx, rx] = TypeParam::make(64);
    fill(tx);
    std::thread sender([&, &tx = tx] { EXPECT_TRUE(send_text(tx, "late")); });
    std::this_thread::sleep_for(5ms);
    int received = 0;
    std::string last;
    while (auto r = rx.recv_for(5s)) {
        last = to_string(r.bytes());
        if (++received == 5) break;
    }
    sender.join();
    EXPECT_EQ(received, 5);
    EXPECT_EQ(last, "late");
}

// A record committed just before the last sender leaves must be received,
// never reported as disconnected. Run the race many times, with try_recv and
// with recv.
TYPED_TEST(ChannelDisconnect, CommitThenLeaveNeverLooksDisconnected) {
    const int rounds = 400 / channel_test::sanitizer_divisor;
    for (int round = 0; round < rounds; ++round) {
        auto [tx, rx] = TypeParam::make(64);
        std::thread sender([tx = std::move(tx)]() mutable {
            EXPECT_TRUE(send_text(tx, "last words"));
        });  // the sender dies with the thread's lambda
        int got = 0;
        for (;;) {
            auto r = (round % 2 == 0) ? rx.try_recv() : rx.recv();
            if (r) {
                EXPECT_EQ(to_string(r.bytes()), "last words");
                ++got;
                continue;
            }
            if (r.error() == errc::disconnected) break;
            ASSERT_EQ(r.error(), errc::empty);
            std::this_thread::yield();  // let the sender run on a busy machine
        }
        sender.join();
        ASSERT_EQ(got, 1) << "round " << round;
    }
}

TEST(ChannelDisconnectMpsc, ReceiverSeesDisconnectedOnlyAfterEveryCopyLeaves) {
    auto [tx, rx] = logbuf::channel::mpsc::make(1024);
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t) {
        threads.emplace_back([copy = tx, t]() mutable {
            for (int i = 0; i < 10; ++i)
                EXPECT_TRUE(send_text(copy, std::to_string(t)));
        });
    }
    { auto drop = std::move(tx); }
    int received = 0;
    for (;;) {
        auto r = rx.recv();
        if (!r) {
            EXPECT_EQ(r.error(), errc::disconnected);
            break;
        }
        ++received;
    }
    for (auto& t : threads)
        t.join();
    EXPECT_EQ(received, 30);
}

}  // namespace
