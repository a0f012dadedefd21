// Every call of the SPSC and MPSC channels on one thread: round trips, the
// empty / full / timeout / zero-length / too-large results, drain, handle
// types, moved-from handles.
#include "channel_test_util.hpp"

#include <logbuf/channel/mpsc.hpp>
#include <logbuf/channel/spsc.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <limits>
#include <ratio>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;
using channel_test::send_text;
using channel_test::to_string;
using clock_type = std::chrono::steady_clock;
using logbuf::errc;

// Handle types: what can be copied and moved.
static_assert(!std::is_copy_constructible_v<logbuf::channel::spsc::sender>);
static_assert(!std::is_copy_assignable_v<logbuf::channel::spsc::sender>);
static_assert(std::is_nothrow_move_constructible_v<logbuf::channel::spsc::sender>);
static_assert(std::is_nothrow_move_assignable_v<logbuf::channel::spsc::sender>);
static_assert(std::is_copy_constructible_v<logbuf::channel::mpsc::sender>);
static_assert(std::is_copy_assignable_v<logbuf::channel::mpsc::sender>);
static_assert(std::is_nothrow_move_constructible_v<logbuf::channel::mpsc::sender>);
static_assert(!std::is_copy_constructible_v<logbuf::channel::spsc::receiver>);
static_assert(!std::is_copy_constructible_v<logbuf::channel::mpsc::receiver>);
static_assert(std::is_nothrow_move_constructible_v<logbuf::channel::mpsc::receiver>);
static_assert(std::is_nothrow_move_assignable_v<logbuf::channel::mpsc::receiver>);

// The hot path and the receive calls never throw.
static_assert(noexcept(std::declval<logbuf::channel::spsc::sender&>().send(1)));
static_assert(noexcept(std::declval<logbuf::channel::mpsc::sender&>().send(1)));
static_assert(noexcept(std::declval<logbuf::channel::mpsc::sender&>().try_send(1)));
static_assert(noexcept(std::declval<const logbuf::channel::mpsc::sender&>().notify()));
static_assert(noexcept(std::declval<logbuf::channel::mpsc::receiver&>().recv()));
static_assert(noexcept(std::declval<logbuf::channel::mpsc::receiver&>().try_recv()));
static_assert(noexcept(std::declval<logbuf::channel::mpsc::receiver&>().recv_for(
    std::declval<std::chrono::milliseconds>())));

template <class Flavour>
class ChannelApi : public ::testing::Test {};
TYPED_TEST_SUITE(ChannelApi, channel_test::flavours);

TYPED_TEST(ChannelApi, MakeRoundsCapacityAndRejectsTooSmall) {
    auto [tx, rx] = TypeParam::make(1000);
    EXPECT_EQ(tx.capacity(), 1024u);
    EXPECT_EQ(tx.max_payload(), 1016u);
    EXPECT_EQ(rx.capacity(), 1024u);
    EXPECT_EQ(rx.max_payload(), 1016u);
    EXPECT_THROW((void)TypeParam::make(15), std::invalid_argument);
}

TYPED_TEST(ChannelApi, SendThenRecvRoundTrip) {
    auto [tx, rx] = TypeParam::make(1024);
    ASSERT_TRUE(send_text(tx, "hello"));
    ASSERT_TRUE(send_text(tx, "world!"));
    auto a = rx.recv();
    ASSERT_TRUE(a);
    EXPECT_EQ(a.error(), errc{});
    EXPECT_EQ(to_string(a.bytes()), "hello");
    a.release();
    auto b = rx.try_recv();
    ASSERT_TRUE(b);
    EXPECT_EQ(to_string(b.bytes()), "world!");
}

TYPED_TEST(ChannelApi, TryRecvOnEmptyIsEmpty) {
    auto [tx, rx] = TypeParam::make(64);
    const auto r = rx.try_recv();
    EXPECT_FALSE(r);
    EXPECT_EQ(r.error(), errc::empty);
    EXPECT_FALSE(rx.is_disconnected());
}

TYPED_TEST(ChannelApi, RecvForTimesOutAfterTheTimeout) {
    auto [tx, rx] = TypeParam::make(64);
    const auto start = clock_type::now();
    const auto r = rx.recv_for(30ms);
    const auto elapsed = clock_type::now() - start;
    EXPECT_FALSE(r);
    EXPECT_EQ(r.error(), errc::timeout);
    EXPECT_GE(elapsed, 30ms);
    EXPECT_LT(elapsed, 5s);
}

TYPED_TEST(ChannelApi, RecvForZeroOrNegativeTriesOnce) {
    auto [tx, rx] = TypeParam::make(64);
    const auto start = clock_type::now();
    EXPECT_EQ(rx.recv_for(0ms).error(), errc::timeout);
    EXPECT_EQ(rx.recv_for(-5s).error(), errc::timeout);
    EXPECT_LT(clock_type::now() - start, 1s);
    ASSERT_TRUE(send_text(tx, "x"));
    const auto r = rx.recv_for(0ns);
    ASSERT_TRUE(r);
    EXPECT_EQ(to_string(r.bytes()), "x");
}

TYPED_TEST(ChannelApi, RecvForAcceptsAnyDurationType) {
    auto [tx, rx] = TypeParam::make(64);
    ASSERT_TRUE(send_text(tx, "a"));
    ASSERT_TRUE(send_text(tx, "b"));
    ASSERT_TRUE(send_text(tx, "c"));
    EXPECT_TRUE(rx.recv_for(std::chrono::duration<double>(0.5)));
    // Huge timeouts mean "for ever" and must not overflow the deadline.
    EXPECT_TRUE(rx.recv_for(std::chrono::hours::max()));
    EXPECT_TRUE(rx.recv_for(std::chrono::nanoseconds::max()));
    EXPECT_EQ(rx.recv_for(std::chrono::duration<float, std::milli>(1.0f)).error(), errc::timeout);
}

// Zero, negative and NaN timeouts of every representation look once; none
// of them may overflow the deadline into the far future (UBSan checks the
// arithmetic). Before the fix seconds(-1e10) and hours::min() blocked for ever.
TYPED_TEST(ChannelApi, RecvForNegativeExtremesTryOnce) {
    auto [tx, rx] = TypeParam::make(64);
    using fsec = std::chrono::duration<double>;
    constexpr double inf = std::numeric_limits<double>::infinity();
    const auto start = clock_type::now();
    EXPECT_EQ(rx.recv_for(std::chrono::seconds(-10'000'000'000)).error(), errc::timeout);
    EXPECT_EQ(rx.recv_for(std::chrono::hours::min()).error(), errc::timeout);
    EXPECT_EQ(rx.recv_for(std::chrono::nanoseconds::min()).error(), errc::timeout);
    EXPECT_EQ(
        rx.recv_for(std::chrono::duration<std::int64_t, std::ratio<1, 1'000'000'000'000>>::min())
            .error(),
        errc::timeout);
    EXPECT_EQ(
        rx.recv_for(std::chrono::duration<std::int64_t, std::ratio<1'000'000'000'000>>(-1)).error(),
        errc::timeout);
    EXPECT_EQ(rx.recv_for(std::chrono::duration<std::int8_t>(-128)).error(), errc::timeout);
    EXPECT_EQ(rx.recv_for(std::chrono::duration<unsigned>(0)).error(), errc::timeout);
    EXPECT_EQ(rx.recv_for(fsec(-inf)).error(), errc::timeout);
    EXPECT_EQ(rx.recv_for(fsec(std::numeric_limits<double>::quiet_NaN())).error(), errc::timeout);
    EXPECT_EQ(rx.recv_for(fsec(-std::numeric_limits<double>::max())).error(), errc::timeout);
    EXPECT_EQ(rx.recv_for(fsec(-0.0)).error(), errc::timeout);
    EXPECT_EQ(rx.recv_for(std::chrono::duration<long double>(-1e4000L)).error(), errc::timeout);
    EXPECT_EQ(rx.recv_for(std::chrono::duration<float, std::milli>(-1e30f)).error(), errc::timeout);
    EXPECT_EQ(rx.recv_until(clock_type::time_point::min()).error(), errc::timeout);
    EXPECT_LT(clock_type::now() - start, 5s);
    // With a record waiting they hand it out; once disconnected they say so.
    ASSERT_TRUE(send_text(tx, "n"));
    EXPECT_EQ(to_string(rx.recv_for(std::chrono::hours::min()).bytes()), "n");
    { auto gone = std::move(tx); }
    EXPECT_EQ(rx.recv_for(std::chrono::seconds(-10'000'000'000)).error(), errc::disconnected);
    EXPECT_EQ(rx.recv_for(fsec(std::numeric_limits<double>::quiet_NaN())).error(),
              errc::disconnected);
}

// Huge timeouts of every representation mean "wait": they neither overflow
// into the past (a timeout at once) nor crash. A record sent later arrives.
TYPED_TEST(ChannelApi, RecvForHugeExtremesWait) {
    using fsec = std::chrono::duration<double>;
    const auto wait_one = [](auto timeout) {
        auto [tx, rx] = TypeParam::make(64);
        std::thread late([&t = tx]() {
            std::this_thread::sleep_for(20ms);
            EXPECT_TRUE(send_text(t, "late"));
        });
        const auto r = rx.recv_for(timeout);
        late.join();
        EXPECT_EQ(r.error(), errc{});
        EXPECT_EQ(to_string(r.bytes()), "late");
    };
    wait_one(std::chrono::hours::max());
    wait_one(std::chrono::nanoseconds::max());
    wait_one(std::chrono::seconds(10'000'000'000));
    wait_one(std::chrono::duration<std::uint64_t, std::nano>::max());
    wait_one(std::chrono::duration<std::int64_t, std::ratio<1, 1'000'000'000'000>>::max());
    wait_one(std::chrono::duration<std::int64_t, std::ratio<1'000'000'000'000>>::max());
    wait_one(fsec(std::numeric_limits<double>::infinity()));
    wait_one(fsec(std::numeric_limits<double>::max()));
    wait_one(std::chrono::duration<long double>(1e4000L));
    wait_one(std::chrono::duration<float, std::milli>(std::numeric_limits<float>::max()));
    wait_one(std::chrono::hours(24 * 365 * 99));  // just below "for ever": a real deadline
}

// recv_until: time_point::max() waits for ever; the disconnect ends it.
TYPED_TEST(ChannelApi, RecvUntilMaxEndsWithDisconnect) {
    auto [tx, rx] = TypeParam::make(64);
    std::thread leave([t = std::move(tx)]() mutable {
        std::this_thread::sleep_for(20ms);
        auto gone = std::move(t);
    });
    EXPECT_EQ(rx.recv_until(clock_type::time_point::max()).error(), errc::disconnected);
    leave.join();
}

TYPED_TEST(ChannelApi, RecvUntilPastDeadlineTimesOut) {
    auto [tx, rx] = TypeParam::make(64);
    EXPECT_EQ(rx.recv_until(clock_type::now() - 1s).error(), errc::timeout);
}

TYPED_TEST(ChannelApi, TrySendOnFullRingIsFull) {
    auto [tx, rx] = TypeParam::make(64);  // 64 bytes: three 16-byte records
    int sent = 0;
    for (;;) {
        auto c = tx.try_send(8);
        if (!c) {
            EXPECT_EQ(c.error(), errc::full);
            break;
        }
        c.commit();
        ++sent;
        ASSERT_LT(sent, 100);
    }
    EXPECT_EQ(sent, 4);
    // Freeing space makes room again.
    rx.try_recv().release();
    EXPECT_TRUE(tx.try_send(8));
}

TYPED_TEST(ChannelApi, ZeroAndOversizedLengthsFailAtOnce) {
    auto [tx, rx] = TypeParam::make(64);
    EXPECT_EQ(tx.send(0).error(), errc::zero_length);
    EXPECT_EQ(tx.try_send(0).error(), errc::zero_length);
    EXPECT_EQ(tx.send(57).error(), errc::too_large);
    EXPECT_EQ(tx.try_send(57).error(), errc::too_large);
    EXPECT_EQ(tx.send(SIZE_MAX).error(), errc::too_large);
    // Even with the ring full, a bad length is reported, not waited on.
    auto big = tx.send(56);
    ASSERT_TRUE(big);
    EXPECT_EQ(tx.send(0).error(), errc::zero_length);
    EXPECT_EQ(tx.send(1000).error(), errc::too_large);
    big.commit();
    EXPECT_EQ(rx.try_recv().size(), 56u);
}

TYPED_TEST(ChannelApi, MaxPayloadRecordFits) {
    auto [tx, rx] = TypeParam::make(128);
    for (int lap = 0; lap < 5; ++lap) {
        std::string text(tx.max_payload(), static_cast<char>('a' + lap));
        ASSERT_TRUE(send_text(tx, text));
        auto r = rx.recv();
        ASSERT_TRUE(r);
        EXPECT_EQ(to_string(r.bytes()), text);
    }
}

TYPED_TEST(ChannelApi, AbortedClaimIsNotDelivered) {
    auto [tx, rx] = TypeParam::make(256);
    {
        auto c = tx.send(10);
        ASSERT_TRUE(c);
        std::memset(c.data(), 'z', 10);
    }  // destroyed uncommitted: aborted
    ASSERT_TRUE(send_text(tx, "kept"));
    auto r = rx.recv_for(1s);
    ASSERT_TRUE(r);
    EXPECT_EQ(to_string(r.bytes()), "kept");
}

TYPED_TEST(ChannelApi, DrainHandsOutRecordsInOrder) {
    auto [tx, rx] = TypeParam::make(1024);
    for (int i = 0; i < 10; ++i)
        ASSERT_TRUE(send_text(tx, std::to_string(i)));
    std::vector<std::string> seen;
    EXPECT_EQ(rx.drain([&](std::span<const std::byte> b) { seen.push_back(to_string(b)); }, 4), 4u);
    EXPECT_EQ(rx.drain([&](std::span<const std::byte> b) { seen.push_back(to_string(b)); }), 6u);
    ASSERT_EQ(seen.size(), 10u);
    for (int i = 0; i < 10; ++i)
        EXPECT_EQ(seen[static_cast<std::size_t>(i)], std::to_string(i));
    EXPECT_EQ(rx.drain([](std::span<const std::byte>) {}), 0u);
}

TYPED_TEST(ChannelApi, NotifyWithNobodyWaitingIsHarmless) {
    auto [tx, rx] = TypeParam::make(64);
    for (int i = 0; i < 100; ++i)
        tx.notify();
    EXPECT_EQ(rx.try_recv().error(), errc::empty);
}

TYPED_TEST(ChannelApi, MovedFromSenderIsInert) {
    auto [tx, rx] = TypeParam::make(64);
    auto moved = std::move(tx);
    // NOLINTBEGIN(bugprone-use-after-move): the point of the test
    for (const std::size_t len : {std::size_t{0}, std::size_t{8}, std::size_t{1} << 40}) {
        auto a = tx.send(len);
        EXPECT_FALSE(a);
        EXPECT_EQ(a.error(), errc::disconnected);
        EXPECT_EQ(a.data(), nullptr);
        EXPECT_EQ(a.size(), 0u);
        a.commit();  // no effect on an empty claim
        auto b = tx.try_send(len);
        EXPECT_FALSE(b);
        EXPECT_EQ(b.error(), errc::disconnected);
    }
    tx.notify();
    EXPECT_TRUE(tx.is_disconnected());
    EXPECT_EQ(tx.capacity(), 0u);
    EXPECT_EQ(tx.max_payload(), 0u);
    // Moving a moved-from sender moves nothing.
    auto still_empty = std::move(tx);
    EXPECT_TRUE(still_empty.is_disconnected());
    EXPECT_EQ(still_empty.try_send(8).error(), errc::disconnected);
    tx = std::move(still_empty);
    EXPECT_EQ(tx.send(8).error(), errc::disconnected);
    // NOLINTEND(bugprone-use-after-move)
    EXPECT_EQ(rx.try_recv().error(), errc::empty);  // nothing reached the ring
    // The moved-to sender still counts: the receiver is not disconnected.
    EXPECT_FALSE(rx.is_disconnected());
    EXPECT_FALSE(moved.is_disconnected());
    ASSERT_TRUE(send_text(moved, "m"));
    EXPECT_EQ(to_string(rx.recv().bytes()), "m");
    // Assigning a live sender over a moved-from one revives it.
    tx = std::move(moved);
    ASSERT_TRUE(send_text(tx, "n"));
    EXPECT_EQ(to_string(rx.recv().bytes()), "n");
}

TYPED_TEST(ChannelApi, MovedFromReceiverIsInert) {
    auto [tx, rx] = TypeParam::make(64);
    ASSERT_TRUE(send_text(tx, "r"));
    auto moved = std::move(rx);
    // NOLINTBEGIN(bugprone-use-after-move)
    const auto expect_disconnected = [](const auto& claim) {
        EXPECT_FALSE(claim);
        EXPECT_EQ(claim.error(), errc::disconnected);
        EXPECT_EQ(claim.data(), nullptr);
        EXPECT_EQ(claim.size(), 0u);
    };
    expect_disconnected(rx.recv());
    expect_disconnected(rx.try_recv());
    expect_disconnected(rx.recv_for(1s));
    expect_disconnected(rx.recv_for(0s));
    expect_disconnected(rx.recv_for(std::chrono::hours::max()));
    expect_disconnected(rx.recv_until(clock_type::now() + 1s));
    expect_disconnected(rx.recv_until(clock_type::time_point::max()));
    bool called = false;
    EXPECT_EQ(rx.drain([&called](std::span<const std::byte>) { called = true; }), 0u);
    EXPECT_EQ(rx.drain([&called](std::span<const std::byte>) { called = true; }, 1), 0u);
    EXPECT_FALSE(called);
    EXPECT_TRUE(rx.is_disconnected());
    EXPECT_EQ(rx.capacity(), 0u);
    EXPECT_EQ(rx.max_payload(), 0u);
    rx.set_park_timeout(5ms);  // harmless
    EXPECT_EQ(rx.park_timeout(), 5ms);
    EXPECT_EQ(rx.parking().parks, 0u);
    {
        auto still_empty = std::move(rx);  // moving a moved-from receiver moves nothing
        expect_disconnected(still_empty.try_recv());
    }
    // NOLINTEND(bugprone-use-after-move)
    // Moving the receiver did not tell the senders it was gone.
    EXPECT_FALSE(tx.is_disconnected());
    EXPECT_EQ(to_string(moved.recv().bytes()), "r");
    ASSERT_TRUE(send_text(tx, "s"));
    rx = std::move(moved);
    EXPECT_EQ(to_string(rx.recv().bytes()), "s");
}

TYPED_TEST(ChannelApi, MoveAssigningOverALiveSenderDropsIt) {
    auto [tx, rx] = TypeParam::make(64);
    auto [tx2, rx2] = TypeParam::make(64);
    tx = std::move(tx2);  // tx's old channel loses its only sender
    EXPECT_TRUE(rx.is_disconnected());
    EXPECT_EQ(rx.recv().error(), errc::disconnected);
    EXPECT_FALSE(rx2.is_disconnected());
}

TYPED_TEST(ChannelApi, ParkTimeoutAndParkingStats) {
    auto [tx, rx] = TypeParam::make(64);
    EXPECT_EQ(rx.park_timeout(), 100ms);
    rx.set_park_timeout(5ms);
    EXPECT_EQ(rx.park_timeout(), 5ms);
    rx.set_park_timeout(0ns);  // clamped: a park must last a little
    EXPECT_GT(rx.park_timeout(), 0ns);
    rx.set_park_timeout(5ms);
    EXPECT_EQ(rx.parking().parks, 0u);
    EXPECT_EQ(rx.recv_for(50ms).error(), errc::timeout);
    const auto stats = rx.parking();
    EXPECT_GE(stats.parks, 2u);  // 50 ms of 5 ms slices
    EXPECT_GT(stats.slept, 10ms);
    EXPECT_LE(stats.slept, 5s);
}

TEST(ChannelMpsc, CopiesAreSendersOfTheSameChannel) {
    auto [tx, rx] = logbuf::channel::mpsc::make(256);
    auto copy = tx;
    ASSERT_TRUE(send_text(copy, "from copy"));
    ASSERT_TRUE(send_text(tx, "from original"));
    EXPECT_EQ(to_string(rx.recv().bytes()), "from copy");
    EXPECT_EQ(to_string(rx.recv().bytes()), "from original");
    EXPECT_EQ(copy.capacity(), tx.capacity());
}

// A copy of a moved-from sender is just as empty and is not counted: the
// receiver still sees disconnected once the real senders are gone.
TEST(ChannelMpsc, CopyOfAMovedFromSenderIsEmpty) {
    auto [tx, rx] = logbuf::channel::mpsc::make(64);
    auto live = std::move(tx);
    auto copy = tx;  // NOLINT(bugprone-use-after-move)
    EXPECT_TRUE(copy.is_disconnected());
    EXPECT_EQ(copy.send(8).error(), errc::disconnected);
    EXPECT_EQ(copy.try_send(8).error(), errc::disconnected);
    copy = tx;  // copy-assigning an empty sender over an empty one
    EXPECT_EQ(copy.capacity(), 0u);
    { auto gone = std::move(live); }
    EXPECT_TRUE(rx.is_disconnected());
    EXPECT_EQ(rx.recv().error(), errc::disconnected);
}

TEST(ChannelMpsc, CopyAssignmentCountsSenders) {
    auto [tx, rx] = logbuf::channel::mpsc::make(64);
    auto [other_tx, other_rx] = logbuf::channel::mpsc::make(64);
    other_tx = tx;  // other channel: its only sender is gone; ours has two
    EXPECT_TRUE(other_rx.is_disconnected());
    EXPECT_FALSE(rx.is_disconnected());
    const auto& same = other_tx;
    other_tx = same;  // self-assignment changes nothing
    { auto drop = std::move(tx); }
    EXPECT_FALSE(rx.is_disconnected());
    { auto drop = std::move(other_tx); }
    EXPECT_TRUE(rx.is_disconnected());
}

}  // namespace
