// Several read claims out at once, through the channels' try_recv(), recv()
// and recv_for(), for both flavours: the natural loop that takes the next
// claim while holding the previous one, two records held and compared,
// releases in any order, drain() while a claim is out, and space that
// returns to the senders only once every older claim is released.
#include "channel_test_util.hpp"

#include <logbuf/channel/mpsc.hpp>
#include <logbuf/channel/spsc.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;
using channel_test::send_text;
using channel_test::to_string;
using logbuf::errc;

template <class Flavour>
class ChannelClaims : public ::testing::Test {};
TYPED_TEST_SUITE(ChannelClaims, channel_test::flavours);

// Record i: a length from 1 to 40 bytes and a content that names i, so a
// record read at the wrong place or zeroed shows.
std::string record_text(std::uint64_t i) {
    std::string s = std::to_string(i) + ":";
    s.resize(1 + (i * 7) % 40, static_cast<char>('a' + i % 26));
    return s;
}

// `for (auto r = rx.try_recv(); r; r = rx.try_recv())`: the next claim is
// taken while the previous one is still held (the assignment releases it
// only after try_recv() returned). Mixed lengths, a small ring, many laps.
TYPED_TEST(ChannelClaims, TryRecvLoopTakesTheNextWhileHoldingThePrevious) {
    auto [tx, rx] = TypeParam::make(256);
    std::uint64_t sent = 0;
    std::uint64_t got = 0;
    for (int lap = 0; lap < 50; ++lap) {
        for (;;) {  // fill the ring
            const std::string text = record_text(sent);
            auto c = tx.try_send(text.size());
            if (!c) {
                ASSERT_EQ(c.error(), errc::full);
                break;
            }
            std::memcpy(c.data(), text.data(), text.size());
            c.commit();
            ++sent;
        }
        for (auto r = rx.try_recv(); r; r = rx.try_recv()) {
            ASSERT_EQ(to_string(r.bytes()), record_text(got)) << "lap " << lap;
            ++got;
        }
        ASSERT_EQ(got, sent) << "lap " << lap;
    }
    EXPECT_GT(sent, 200u);
    EXPECT_EQ(rx.try_recv().error(), errc::empty);
}

// The same loop with recv() and recv_for(), ending with disconnected.
TYPED_TEST(ChannelClaims, RecvLoopsHoldThePreviousClaim) {
    for (const bool timed : {false, true}) {
        auto [tx, rx] = TypeParam::make(512);
        for (std::uint64_t i = 0; i < 10; ++i)
            ASSERT_TRUE(send_text(tx, record_text(i)));
        { auto gone = std::move(tx); }
        std::uint64_t got = 0;
        auto r = timed ? rx.recv_for(1s) : rx.recv();
        for (; r; r = timed ? rx.recv_for(1s) : rx.recv()) {
            ASSERT_EQ(to_string(r.bytes()), record_text(got));
            ++got;
        }
        EXPECT_EQ(got, 10u);
        EXPECT_EQ(r.error(), errc::disconnected);
    }
}

// Two records held at once and compared; released in either order. Their
// bytes stay put until released, and the space comes back once both are
// (releasing the newer one alone frees nothing: the older one still holds
// the read position).
TYPED_TEST(ChannelClaims, TwoRecordsHeldAtOnceReleasedInEitherOrder) {
    for (const bool newest_first : {true, false}) {
        auto [tx, rx] = TypeParam::make(64);  // four 8-byte records fill it
        for (const char* text : {"first...", "second..", "third...", "fourth.."})
            ASSERT_TRUE(send_text(tx, text));
        EXPECT_EQ(tx.try_send(8).error(), errc::full);
        auto a = rx.recv();
        auto b = rx.recv_for(1s);
        ASSERT_TRUE(a);
        ASSERT_TRUE(b);
        EXPECT_EQ(to_string(a.bytes()), "first...");
        EXPECT_EQ(to_string(b.bytes()), "second..");
        EXPECT_NE(a.data(), b.data());
        (newest_first ? b : a).release();
        EXPECT_EQ(to_string((newest_first ? a : b).bytes()),
                  newest_first ? "first..." : "second..");
        if (newest_first) {
            EXPECT_EQ(tx.try_send(8).error(), errc::full);
        }
        (newest_first ? a : b).release();
        // Both released: the space of both is free again.
        ASSERT_TRUE(send_text(tx, "fifth..."));
        ASSERT_TRUE(send_text(tx, "sixth..."));
        EXPECT_EQ(tx.try_send(8).error(), errc::full);
        for (const char* text : {"third...", "fourth..", "fifth...", "sixth..."}) {
            auto r = rx.try_recv();
            ASSERT_TRUE(r);
            EXPECT_EQ(to_string(r.bytes()), text);
        }
        EXPECT_EQ(rx.try_recv().error(), errc::empty);
    }
}

// drain() while a claim is out hands out the records after it; releasing
// the claim afterwards loses nothing (records sent later all arrive).
TYPED_TEST(ChannelClaims, DrainWhileAClaimIsOut) {
    auto [tx, rx] = TypeParam::make(256);
    for (std::uint64_t i = 0; i < 5; ++i)
        ASSERT_TRUE(send_text(tx, record_text(i)));
    auto held = rx.try_recv();
    ASSERT_TRUE(held);
    std::vector<std::string> drained;
    EXPECT_EQ(rx.drain([&](std::span<const std::byte> r) { drained.push_back(to_string(r)); }), 4u);
    ASSERT_EQ(drained.size(), 4u);
    for (std::uint64_t i = 1; i < 5; ++i)
        EXPECT_EQ(drained[i - 1], record_text(i));
    EXPECT_EQ(to_string(held.bytes()), record_text(0));  // still intact
    held.release();
    for (std::uint64_t i = 5; i < 9; ++i)
        ASSERT_TRUE(send_text(tx, record_text(i)));
    for (std::uint64_t i = 5; i < 9; ++i) {
        auto r = rx.recv_for(1s);
        ASSERT_TRUE(r) << logbuf::to_string(r.error());
        EXPECT_EQ(to_string(r.bytes()), record_text(i));
    }
    EXPECT_EQ(rx.try_recv().error(), errc::empty);
}

// A sender thread streams numbered records of mixed lengths through a small
// ring; the receiver keeps up to three claims out and releases one of them
// whenever it holds three (the oldest, or, every other time, the newest),
// checking every record's content and order and that held bytes stay put.
TYPED_TEST(ChannelClaims, ReceiverHoldingSeveralClaimsUnderLoad) {
    constexpr std::uint64_t total = 20'000 / channel_test::sanitizer_divisor;
    auto [tx, rx] = TypeParam::make(512);
    std::thread sender([t = std::move(tx)]() mutable {
        for (std::uint64_t i = 0; i < total; ++i)
            ASSERT_TRUE(send_text(t, record_text(i)));
    });
    struct held_record {
        logbuf::queue::read_claim claim;
        std::uint64_t index;
    };
    std::deque<held_record> held;
    std::uint64_t got = 0;
    for (auto r = rx.recv(); r; r = rx.recv()) {
        ASSERT_EQ(to_string(r.bytes()), record_text(got));
        held.push_back({std::move(r), got});
        ++got;
        if (held.size() == 3) {
            for (const held_record& h : held)  // untouched while held
                ASSERT_EQ(to_string(h.claim.bytes()), record_text(h.index));
            if (got % 2 == 0) {
                held.pop_front();
            } else {
                held.pop_back();
            }
        }
    }
    sender.join();
    EXPECT_EQ(got, total);
}

}  // namespace
