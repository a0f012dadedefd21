// The object channel, one thread at a time (plus helpers where a call has to
// block): results, bounds and permits, close, disconnection, timeouts, and
// exactly-once destruction in every state the channel can be dropped in.
#include "object_test_support.hpp"

#include <logbuf/channel/object.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <limits>
#include <memory>
#include <optional>
#include <ratio>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using logbuf::errc;
using logbuf::channel::object::make;
using logbuf::channel::object::make_unbounded;
using object_test::counted;
using namespace std::chrono_literals;

TEST(ObjectChannel, ZeroBoundIsRejected) {
    EXPECT_THROW((void)make<int>(0), std::invalid_argument);
}

TEST(ObjectChannel, SendThenReceive) {
    auto [tx, rx] = make_unbounded<int>();
    EXPECT_EQ(rx.try_recv().error(), errc::empty);
    EXPECT_TRUE(tx.try_send(41));
    EXPECT_TRUE(tx.send(42));
    auto a = rx.try_recv();
    ASSERT_TRUE(a);
    EXPECT_EQ(a.error(), errc{});
    EXPECT_EQ(*a, 41);
    auto b = rx.recv();
    ASSERT_TRUE(b.has_value());
    EXPECT_EQ(b.value(), 42);
    EXPECT_EQ(rx.try_recv().error(), errc::empty);
    EXPECT_EQ(tx.bound(), 0u);
    EXPECT_EQ(rx.bound(), 0u);
}

TEST(ObjectChannel, LvaluesAreCopied) {
    auto [tx, rx] = make<std::vector<int>>(4);
    const std::vector<int> v{1, 2, 3};
    ASSERT_TRUE(tx.try_send(v));
    EXPECT_EQ(v.size(), 3u);
    EXPECT_EQ(*rx.try_recv(), v);
}

TEST(ObjectChannel, MoveOnlyValues) {
    auto [tx, rx] = make_unbounded<std::unique_ptr<int>>();
    for (int i = 0; i < 100; ++i)
        ASSERT_TRUE(tx.send(std::make_unique<int>(i)));
    for (int i = 0; i < 100; ++i) {
        auto r = rx.recv();
        ASSERT_TRUE(r);
        EXPECT_EQ(**r, i);
        std::unique_ptr<int> owned = std::move(r).value();
        EXPECT_EQ(*owned, i);
    }
}

TEST(ObjectChannel, BoundedTryFullKeepsTheValueAndPermitsComeBack) {
    auto [tx, rx] = make<std::unique_ptr<int>>(3);
    EXPECT_EQ(tx.bound(), 3u);
    for (int i = 0; i < 3; ++i)
        ASSERT_TRUE(tx.try_send(std::make_unique<int>(i)));
    auto extra = std::make_unique<int>(99);
    const auto full = tx.try_send(std::move(extra));
    EXPECT_FALSE(full);
    EXPECT_EQ(full.error(), errc::full);
    ASSERT_TRUE(extra);  // not consumed
    EXPECT_EQ(*extra, 99);

    EXPECT_EQ(**rx.try_recv(), 0);  // gives one permit back
    EXPECT_TRUE(tx.try_send(std::move(extra)));
    EXPECT_EQ(tx.try_send(std::make_unique<int>(5)).error(), errc::full);

    std::vector<std::unique_ptr<int>> out;
    EXPECT_EQ(rx.recv_many(out, 10), 3u);  // gives three back
    for (int i = 0; i < 3; ++i)
        EXPECT_TRUE(tx.try_send(std::make_unique<int>(i)));
    EXPECT_EQ(tx.try_send(std::make_unique<int>(5)).error(), errc::full);
}

TEST(ObjectChannel, BoundOfOne) {
    auto [tx, rx] = make<int>(1);
    for (int i = 0; i < 100; ++i) {
        ASSERT_TRUE(tx.try_send(i));
        ASSERT_EQ(tx.try_send(i).error(), errc::full);
        ASSERT_EQ(*rx.try_recv(), i);
    }
}

TEST(ObjectChannel, BlockingSendWaitsForRoom) {
    auto [tx, rx] = make<int>(2);
    ASSERT_TRUE(tx.try_send(0));
    ASSERT_TRUE(tx.try_send(1));
    std::atomic<bool> sent{false};
    std::thread sender([&, t = tx]() mutable {
        EXPECT_TRUE(t.send(2));
        sent.store(true);
    });
    std::this_thread::sleep_for(20ms);
    EXPECT_FALSE(sent.load());
    EXPECT_EQ(*rx.recv(), 0);
    sender.join();
    EXPECT_TRUE(sent.load());
    EXPECT_EQ(*rx.recv(), 1);
    EXPECT_EQ(*rx.recv(), 2);
}

TEST(ObjectChannel, BlockingSendOnAFullChannelFailsWhenTheReceiverCloses) {
    auto [tx, rx] = make<std::unique_ptr<int>>(1);
    ASSERT_TRUE(tx.try_send(std::make_unique<int>(0)));
    std::thread sender([t = tx]() mutable {
        auto v = std::make_unique<int>(1);
        const auto r = t.send(std::move(v));
        EXPECT_EQ(r.error(), errc::disconnected);
        EXPECT_TRUE(v);
    });
    std::this_thread::sleep_for(10ms);
    rx.close();
    sender.join();
    EXPECT_EQ(**rx.recv(), 0);  // sent before the close: still received
    EXPECT_EQ(rx.recv().error(), errc::disconnected);
}

TEST(ObjectChannel, BlockingSendOnAFullChannelFailsWhenTheReceiverIsDestroyed) {
    auto [tx, rx] = make<int>(1);
    ASSERT_TRUE(tx.try_send(0));
    std::thread sender([t = tx]() mutable { EXPECT_EQ(t.send(1).error(), errc::disconnected); });
    std::this_thread::sleep_for(10ms);
    { auto gone = std::move(rx); }
    sender.join();
    EXPECT_TRUE(tx.is_closed());
}

TEST(ObjectChannel, CloseStopsSendersButKeepsWhatWasSent) {
    auto [tx, rx] = make_unbounded<std::unique_ptr<int>>();
    ASSERT_TRUE(tx.try_send(std::make_unique<int>(1)));
    ASSERT_TRUE(tx.try_send(std::make_unique<int>(2)));
    EXPECT_FALSE(rx.is_closed());
    rx.close();
    EXPECT_TRUE(rx.is_closed());
    EXPECT_TRUE(tx.is_closed());
    rx.close();  // twice is harmless

    auto late = std::make_unique<int>(3);
    const auto r = tx.send(std::move(late));
    EXPECT_EQ(r.error(), errc::disconnected);
    ASSERT_TRUE(late);
    EXPECT_EQ(tx.try_send(std::move(late)).error(), errc::disconnected);
    ASSERT_TRUE(late);

    EXPECT_EQ(**rx.try_recv(), 1);
    EXPECT_EQ(**rx.recv(), 2);
    EXPECT_EQ(rx.try_recv().error(), errc::disconnected);
    EXPECT_EQ(rx.recv().error(), errc::disconnected);
    EXPECT_EQ(rx.recv_for(1s).error(), errc::disconnected);
    std::vector<std::unique_ptr<int>> out;
    EXPECT_EQ(rx.recv_many(out, 4), 0u);
}

TEST(ObjectChannel, BoundedCloseReportsDisconnectedNotFull) {
    auto [tx, rx] = make<int>(1);
    ASSERT_TRUE(tx.try_send(1));
    rx.close();
    EXPECT_EQ(tx.try_send(2).error(), errc::disconnected);
    EXPECT_EQ(*rx.recv(), 1);
    EXPECT_EQ(tx.try_send(2).error(), errc::disconnected);
}

TEST(ObjectChannel, SendAfterReceiverDestroyedGivesTheValueBack) {
    auto [tx, rx] = make_unbounded<std::unique_ptr<int>>();
    { auto gone = std::move(rx); }
    auto v = std::make_unique<int>(7);
    const auto r = tx.try_send(std::move(v));
    EXPECT_FALSE(r);
    EXPECT_EQ(r.error(), errc::disconnected);
    ASSERT_TRUE(v);
    EXPECT_EQ(*v, 7);
    EXPECT_TRUE(tx.is_closed());
}

TEST(ObjectChannel, LastSenderGoneMeansDisconnectedAfterTheBacklog) {
    auto [tx, rx] = make_unbounded<int>();
    auto tx2 = tx;
    ASSERT_TRUE(tx.try_send(1));
    ASSERT_TRUE(tx2.try_send(2));
    { auto gone = std::move(tx); }
    EXPECT_FALSE(rx.is_closed());
    { auto gone = std::move(tx2); }
    EXPECT_TRUE(rx.is_closed());
    EXPECT_EQ(*rx.recv(), 1);
    EXPECT_EQ(*rx.try_recv(), 2);
    EXPECT_EQ(rx.try_recv().error(), errc::disconnected);
    EXPECT_EQ(rx.recv().error(), errc::disconnected);
}

// Every call on a moved-from sender or receiver (bounded and unbounded):
// errc::disconnected or an empty answer, the value left with the caller,
// never a crash; and the moved-to handles keep the channel going.
TEST(ObjectChannel, MovedFromHandlesReportDisconnected) {
    for (const std::size_t bound : {std::size_t{0}, std::size_t{4}}) {
        auto [tx, rx] =
            bound == 0 ? make_unbounded<std::unique_ptr<int>>() : make<std::unique_ptr<int>>(bound);
        auto tx2 = std::move(tx);
        auto rx2 = std::move(rx);
        // NOLINTBEGIN(bugprone-use-after-move): the point of the test
        auto value = std::make_unique<int>(1);
        EXPECT_EQ(tx.try_send(std::move(value)).error(), errc::disconnected);
        EXPECT_EQ(tx.send(std::move(value)).error(), errc::disconnected);
        ASSERT_NE(value, nullptr);  // not consumed
        EXPECT_EQ(tx.try_send(std::unique_ptr<int>()).error(), errc::disconnected);
        EXPECT_TRUE(tx.is_closed());
        EXPECT_EQ(tx.bound(), 0u);
        auto copy = tx;  // a copy of an empty sender is empty and not counted
        EXPECT_EQ(copy.send(std::make_unique<int>(2)).error(), errc::disconnected);
        copy = tx;

        EXPECT_EQ(rx.try_recv().error(), errc::disconnected);
        EXPECT_EQ(rx.recv().error(), errc::disconnected);
        EXPECT_EQ(rx.recv_for(1s).error(), errc::disconnected);
        EXPECT_EQ(rx.recv_for(0s).error(), errc::disconnected);
        EXPECT_EQ(rx.recv_for(std::chrono::hours::max()).error(), errc::disconnected);
        EXPECT_EQ(rx.recv_until(std::chrono::steady_clock::time_point::max()).error(),
                  errc::disconnected);
        std::vector<std::unique_ptr<int>> out;
        EXPECT_EQ(rx.recv_many(out, 10), 0u);
        EXPECT_TRUE(out.empty());
        rx.close();  // no effect: does not close the live channel
        EXPECT_TRUE(rx.is_closed());
        EXPECT_EQ(rx.bound(), 0u);
        rx.set_park_timeout(5ms);
        EXPECT_EQ(rx.park_timeout(), 5ms);
        EXPECT_EQ(rx.parking().parks, 0u);
        EXPECT_EQ(rx.block_usage().live, 0u);
        EXPECT_EQ(rx.block_usage().allocated, 0u);
        {
            auto still_empty = std::move(rx);  // moving an empty receiver moves nothing
            EXPECT_EQ(still_empty.try_recv().error(), errc::disconnected);
        }
        // NOLINTEND(bugprone-use-after-move)
        EXPECT_FALSE(rx2.is_closed());
        EXPECT_FALSE(tx2.is_closed());
        EXPECT_EQ(tx2.bound(), bound);
        EXPECT_TRUE(tx2.try_send(std::move(value)));
        EXPECT_EQ(**rx2.recv(), 1);
        { auto gone = std::move(tx2); }  // the empty copies did not count
        EXPECT_EQ(rx2.recv().error(), errc::disconnected);
    }
}

// The receiver goes while a sender is inside the write of a slot (its T
// move constructor runs) and other values sit behind that slot. The receiver
// cannot pass the slot, so the sender that was writing it destroys its value
// and everything behind it once written: nothing stays alive until the last
// sender goes (before: the 40 values below lived until then). One thread:
// the hook sends the values behind and destroys the receiver from inside
// the write.
TEST(ObjectChannel, ReceiverGoneMidWriteTheWriterDestroysTheRest) {
    using object_test::hooked;
    for (const std::size_t bound : {std::size_t{0}, std::size_t{64}}) {
        SCOPED_TRACE("bound " + std::to_string(bound));
        counted::reset();
        {
            auto made = bound == 0 ? make_unbounded<hooked>() : make<hooked>(bound);
            auto tx = std::move(made.first);
            auto tx2 = tx;
            std::optional<logbuf::channel::object::receiver<hooked>> rx(std::move(made.second));
            ASSERT_TRUE(tx.try_send(hooked(1)));
            hooked mid(2, [&] {
                for (std::uint64_t i = 0; i < 40; ++i)  // past a block boundary
                    ASSERT_TRUE(tx2.try_send(hooked(100 + i)));
                rx.reset();
                // Value 1 is gone; 2 is being written and the 40 wait behind it.
                EXPECT_EQ(counted::destroyed_with_payload.load(), 1);
                EXPECT_TRUE(tx2.is_closed());
            });
            ASSERT_TRUE(tx.try_send(std::move(mid)));
            EXPECT_EQ(counted::destroyed_with_payload.load(), 42);
            EXPECT_EQ(counted::live.load(), 1);  // `mid`, moved from
            EXPECT_EQ(tx.try_send(hooked(3)).error(), errc::disconnected);
            EXPECT_EQ(tx2.send(hooked(4)).error(), errc::disconnected);
        }
        EXPECT_EQ(counted::live.load(), 0);
        EXPECT_EQ(counted::destroyed_with_payload.load(), 44);
    }
}

// Two writers mid-write, the later one nested in the earlier one's write:
// the later one finishes first and must not take over (the receiver waited on
// the earlier slot); the earlier one then destroys everything.
TEST(ObjectChannel, ReceiverGoneWithTwoWritersMidWriteTheOldestTakesOver) {
    using object_test::hooked;
    counted::reset();
    {
        auto [tx, rx_made] = make_unbounded<hooked>();
        auto tx2 = tx;
        std::optional<logbuf::channel::object::receiver<hooked>> rx(std::move(rx_made));
        hooked outer(1, [&] {
            ASSERT_TRUE(tx2.try_send(hooked(2)));
            hooked inner(3, [&] {
                ASSERT_TRUE(tx2.try_send(hooked(4)));
                rx.reset();
                EXPECT_EQ(counted::destroyed_with_payload.load(), 0);
            });
            ASSERT_TRUE(tx2.try_send(std::move(inner)));
            // The outer slot still holds everything back.
            EXPECT_EQ(counted::destroyed_with_payload.load(), 0);
        });
        ASSERT_TRUE(tx.try_send(std::move(outer)));
        EXPECT_EQ(counted::destroyed_with_payload.load(), 4);
    }
    EXPECT_EQ(counted::live.load(), 0);
}

TEST(ObjectChannel, CopyAndMoveAssignmentKeepTheSenderCount) {
    auto [tx, rx] = make_unbounded<int>();
    auto [other_tx, other_rx] = make_unbounded<int>();
    auto a = tx;
    a = other_tx;  // a leaves the first channel
    EXPECT_FALSE(rx.is_closed());
    tx = std::move(other_tx);  // the first channel's last sender is gone
    EXPECT_TRUE(rx.is_closed());
    EXPECT_EQ(rx.recv().error(), errc::disconnected);
    EXPECT_TRUE(a.try_send(5));
    EXPECT_TRUE(tx.try_send(6));
    EXPECT_EQ(*other_rx.recv(), 5);
    EXPECT_EQ(*other_rx.recv(), 6);
}

TEST(ObjectChannel, RecvForTimesOut) {
    auto [tx, rx] = make_unbounded<int>();
    const auto start = std::chrono::steady_clock::now();
    const auto r = rx.recv_for(50ms);
    const auto waited = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(r.error(), errc::timeout);
    EXPECT_GE(waited, 50ms);
    EXPECT_LT(waited, 2s);
    EXPECT_EQ(rx.recv_for(0s).error(), errc::timeout);
    EXPECT_EQ(rx.recv_for(-5ms).error(), errc::timeout);
    ASSERT_TRUE(tx.try_send(3));
    EXPECT_EQ(*rx.recv_for(0s), 3);
    ASSERT_TRUE(tx.try_send(4));
    EXPECT_EQ(*rx.recv_for(std::chrono::hours::max()), 4);  // "for ever", no overflow
}

// As for the byte channels: zero, negative and NaN timeouts of any
// representation look once (before the fix seconds(-1e10) and hours::min()
// overflowed into the far future and blocked); huge ones wait.
TEST(ObjectChannel, RecvForExtremeDurations) {
    using fsec = std::chrono::duration<double>;
    constexpr double inf = std::numeric_limits<double>::infinity();
    {
        auto [tx, rx] = make_unbounded<int>();
        const auto start = std::chrono::steady_clock::now();
        EXPECT_EQ(rx.recv_for(std::chrono::seconds(-10'000'000'000)).error(), errc::timeout);
        EXPECT_EQ(rx.recv_for(std::chrono::hours::min()).error(), errc::timeout);
        EXPECT_EQ(rx.recv_for(std::chrono::nanoseconds::min()).error(), errc::timeout);
        EXPECT_EQ(rx.recv_for(fsec(-inf)).error(), errc::timeout);
        EXPECT_EQ(rx.recv_for(fsec(std::numeric_limits<double>::quiet_NaN())).error(),
                  errc::timeout);
        EXPECT_EQ(rx.recv_for(std::chrono::duration<long double>(-1e4000L)).error(), errc::timeout);
        EXPECT_EQ(rx.recv_until(std::chrono::steady_clock::time_point::min()).error(),
                  errc::timeout);
        EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
        ASSERT_TRUE(tx.try_send(7));
        EXPECT_EQ(*rx.recv_for(std::chrono::hours::min()), 7);
        { auto gone = std::move(tx); }
        EXPECT_EQ(rx.recv_for(std::chrono::seconds(-10'000'000'000)).error(), errc::disconnected);
    }
    const auto wait_one = [](auto timeout) {
        auto [tx, rx] = make_unbounded<int>();
        std::thread late([t = tx]() mutable {
            std::this_thread::sleep_for(20ms);
            EXPECT_TRUE(t.try_send(9));
        });
        const auto r = rx.recv_for(timeout);
        late.join();
        ASSERT_TRUE(r) << logbuf::to_string(r.error());
        EXPECT_EQ(*r, 9);
    };
    wait_one(std::chrono::hours::max());
    wait_one(std::chrono::nanoseconds::max());
    wait_one(std::chrono::seconds(10'000'000'000));
    wait_one(fsec(inf));
    wait_one(fsec(std::numeric_limits<double>::max()));
    wait_one(std::chrono::duration<std::int64_t, std::ratio<1, 1'000'000'000'000>>::max());
}

TEST(ObjectChannel, ParkedReceiverIsWokenBySend) {
    auto [tx, rx] = make_unbounded<int>();
    rx.set_park_timeout(10s);  // a lost wake-up would show as a 10 s wait
    std::thread sender([t = tx]() mutable {
        std::this_thread::sleep_for(100ms);  // long enough for the receiver to park
        EXPECT_TRUE(t.try_send(1));
    });
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(*rx.recv(), 1);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
    sender.join();
    RecordProperty("parks", static_cast<int>(rx.parking().parks));
}

TEST(ObjectChannel, ParkedReceiverIsWokenByTheLastSenderLeaving) {
    auto [tx, rx] = make_unbounded<int>();
    rx.set_park_timeout(10s);
    std::thread sender([t = std::move(tx)]() mutable {
        std::this_thread::sleep_for(50ms);
        auto gone = std::move(t);
    });
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(rx.recv().error(), errc::disconnected);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
    sender.join();
}

TEST(ObjectChannel, RecvManyAppendsUpToTheLimit) {
    auto [tx, rx] = make_unbounded<int>();
    for (int i = 0; i < 70; ++i)
        ASSERT_TRUE(tx.try_send(i));
    std::deque<int> out{-1};
    EXPECT_EQ(rx.recv_many(out, 50), 50u);
    EXPECT_EQ(out.size(), 51u);
    EXPECT_EQ(out.front(), -1);
    EXPECT_EQ(out.back(), 49);
    EXPECT_EQ(rx.recv_many(out, 0), 0u);
    EXPECT_EQ(rx.recv_many(out, 50), 20u);
    EXPECT_EQ(out.back(), 69);
    // Blocks for the first value like recv().
    std::thread sender([t = tx]() mutable {
        std::this_thread::sleep_for(20ms);
        EXPECT_TRUE(t.try_send(70));
    });
    EXPECT_EQ(rx.recv_many(out, 50), 1u);
    EXPECT_EQ(out.back(), 70);
    sender.join();
}

TEST(ObjectChannel, ResultsReadLikeExpected) {
    auto [tx, rx] = make_unbounded<std::string>();
    ASSERT_TRUE(tx.try_send(std::string("hello")));
    auto r = rx.try_recv();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->size(), 5u);
    std::optional<std::string> taken = std::move(r).take();
    ASSERT_TRUE(taken);
    EXPECT_EQ(*taken, "hello");
    const logbuf::channel::object::send_result ok;
    EXPECT_TRUE(ok);
    EXPECT_EQ(ok.error(), errc{});
}

// ---- exactly-once destruction ------------------------------------------

class ObjectChannelCounting : public ::testing::Test {
  protected:
    void SetUp() override { counted::reset(); }
    void TearDown() override {
        EXPECT_EQ(counted::live.load(), 0) << "a value leaked or was destroyed twice";
    }
};

enum class drop_order { receiver_first, senders_first };

// Sends `sent`, receives `received`, optionally closes, then drops both ends
// in the given order: every value sent is destroyed exactly once.
void drop_channel(std::uint64_t bound, std::uint64_t sent, std::uint64_t received, bool close,
                  drop_order order) {
    counted::reset();
    {
        auto [tx, rx] = bound == 0 ? make_unbounded<counted>() : make<counted>(bound);
        for (std::uint64_t i = 0; i < sent; ++i)
            ASSERT_TRUE(tx.try_send(counted(i)));
        for (std::uint64_t i = 0; i < received; ++i)
            ASSERT_EQ(rx.recv()->payload, i);
        if (close) rx.close();
        ASSERT_EQ(counted::live.load(), static_cast<long>(sent - received));
        if (order == drop_order::receiver_first) {
            { auto gone = std::move(rx); }
            // Values already written are destroyed with the receiver.
            EXPECT_EQ(counted::live.load(), 0);
        } else {
            { auto gone = std::move(tx); }
            EXPECT_EQ(counted::live.load(), static_cast<long>(sent - received));
        }
    }
    EXPECT_EQ(counted::live.load(), 0);
    EXPECT_EQ(counted::destroyed_with_payload.load(), static_cast<long>(sent));
}

TEST_F(ObjectChannelCounting, DroppedInEveryState) {
    constexpr std::uint64_t block_size = 32;
    for (std::uint64_t bound : {std::uint64_t{0}, std::uint64_t{1000}}) {
        for (bool close : {false, true}) {
            for (drop_order order : {drop_order::receiver_first, drop_order::senders_first}) {
                drop_channel(bound, 0, 0, close, order);                   // empty
                drop_channel(bound, 5, 0, close, order);                   // mid-block
                drop_channel(bound, 5, 5, close, order);                   // drained
                drop_channel(bound, block_size, 3, close, order);          // one full block
                drop_channel(bound, 5 * block_size + 9, 0, close, order);  // several blocks
                drop_channel(bound, 5 * block_size + 9, 2 * block_size + 1, close,
                             order);  // partly drained
            }
        }
    }
}

TEST_F(ObjectChannelCounting, RejectedValuesStayWithTheCaller) {
    {
        auto [tx, rx] = make<counted>(1);
        ASSERT_TRUE(tx.try_send(counted(0)));
        counted kept(1);
        EXPECT_EQ(tx.try_send(std::move(kept)).error(), errc::full);
        EXPECT_TRUE(kept.has_payload);
        rx.close();
        EXPECT_EQ(tx.send(std::move(kept)).error(), errc::disconnected);
        EXPECT_TRUE(kept.has_payload);
    }
    EXPECT_EQ(counted::destroyed_with_payload.load(), 2);
}

TEST_F(ObjectChannelCounting, ReceivedValuesAreTheReceiversToDestroy) {
    auto [tx, rx] = make_unbounded<counted>();
    for (std::uint64_t i = 0; i < 100; ++i)
        ASSERT_TRUE(tx.try_send(counted(i)));
    std::vector<counted> out;
    EXPECT_EQ(rx.recv_many(out, 1000), 100u);
    EXPECT_EQ(counted::live.load(), 100);
    out.clear();
    EXPECT_EQ(counted::live.load(), 0);
}

// A copy that throws (its move does not): the failed send leaves nothing in
// the channel and gives its permit back.
struct copy_throws {
    int payload = 0;
    explicit copy_throws(int p) noexcept : payload(p) {}
    copy_throws(const copy_throws& other) : payload(other.payload) {
        if (payload < 0) throw std::runtime_error("copy failed");
    }
    copy_throws(copy_throws&&) noexcept = default;
    copy_throws& operator=(const copy_throws&) = default;
    copy_throws& operator=(copy_throws&&) noexcept = default;
    ~copy_throws() = default;
};

TEST(ObjectChannel, ThrowingCopyLeavesNothingBehind) {
    auto [tx, rx] = make<copy_throws>(2);
    const copy_throws bad(-1);
    const copy_throws good(1);
    EXPECT_THROW((void)tx.try_send(bad), std::runtime_error);
    EXPECT_THROW((void)tx.send(bad), std::runtime_error);
    ASSERT_TRUE(tx.try_send(good));
    ASSERT_TRUE(tx.try_send(good));  // both permits came back
    EXPECT_EQ(tx.try_send(good).error(), errc::full);
    EXPECT_EQ(rx.try_recv()->payload, 1);
    EXPECT_EQ(rx.try_recv()->payload, 1);
    EXPECT_EQ(rx.try_recv().error(), errc::empty);
}

TEST(ObjectChannel, ThrowingMoveOnSend) {
    using object_test::throws_on_move;
    throws_on_move::live = 0;
    {
        auto [tx, rx] = make_unbounded<throws_on_move>();
        throws_on_move bad(1, true);
        EXPECT_THROW((void)tx.try_send(std::move(bad)), std::runtime_error);
        ASSERT_TRUE(tx.try_send(throws_on_move(2, false)));
        auto r = rx.try_recv();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->payload, 2);
        EXPECT_EQ(rx.try_recv().error(), errc::empty);
    }
    EXPECT_EQ(throws_on_move::live.load(), 0);
}

}  // namespace
