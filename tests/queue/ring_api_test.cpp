// Every call of the byte-ring API and every failure mode, for both flavours.
#include "ring_test_support.hpp"

#include <logbuf/queue/mpsc.hpp>
#include <logbuf/queue/spsc.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace {

using logbuf::errc;
using namespace logbuf_test;

template <class Ring>
class RingApi : public ::testing::Test {};
TYPED_TEST_SUITE(RingApi, ring_flavours);

template <class Producer>
void write_string(Producer& tx, const std::string& s) {
    auto claim = tx.try_claim(s.size());
    ASSERT_TRUE(claim) << logbuf::to_string(claim.error());
    std::memcpy(claim.data(), s.data(), s.size());
    claim.commit();
}

template <class Consumer>
std::string read_string(Consumer& rx) {
    auto claim = rx.try_claim();
    if (!claim) return "<" + std::string(logbuf::to_string(claim.error())) + ">";
    return {reinterpret_cast<const char*>(claim.data()), claim.size()};
}

// ---- construction ------------------------------------------------------

TYPED_TEST(RingApi, CapacityRoundsUpToPowerOfTwo) {
    for (auto [requested, expected] : std::vector<std::pair<std::size_t, std::size_t>>{
             {16, 16}, {17, 32}, {1000, 1024}, {4096, 4096}, {4097, 8192}}) {
        auto [tx, rx] = TypeParam::make(requested);
        EXPECT_EQ(tx.capacity(), expected);
        EXPECT_EQ(rx.capacity(), expected);
        EXPECT_EQ(tx.max_payload(), expected - 8);
        EXPECT_EQ(rx.max_payload(), expected - 8);
    }
}

TYPED_TEST(RingApi, TooSmallOrTooLargeCapacityThrows) {
    for (std::size_t bad : {std::size_t{0}, std::size_t{1}, std::size_t{8}, std::size_t{15}})
        EXPECT_THROW((void)TypeParam::make(bad), std::invalid_argument) << bad;
    EXPECT_THROW((void)TypeParam::make((std::size_t{1} << 62) + 1), std::invalid_argument);
    EXPECT_THROW((void)TypeParam::make(std::numeric_limits<std::size_t>::max()),
                 std::invalid_argument);
}

TYPED_TEST(RingApi, HandlesAreMoveOnlyExceptMpscProducer) {
    auto pair = TypeParam::make(64);
    using producer = decltype(pair.first);
    using consumer = decltype(pair.second);
    static_assert(std::is_nothrow_move_constructible_v<producer>);
    static_assert(std::is_nothrow_move_constructible_v<consumer>);
    static_assert(!std::is_copy_constructible_v<consumer>);
    static_assert(std::is_copy_constructible_v<producer> == std::is_same_v<TypeParam, mpsc_ring>);
    static_assert(!std::is_copy_constructible_v<logbuf::queue::write_claim>);
    static_assert(!std::is_copy_constructible_v<logbuf::queue::read_claim>);
}

// ---- bad lengths -------------------------------------------------------

TYPED_TEST(RingApi, ZeroLengthIsAnError) {
    auto [tx, rx] = TypeParam::make(64);
    auto claim = tx.try_claim(0);
    EXPECT_FALSE(claim);
    EXPECT_EQ(claim.error(), errc::zero_length);
    EXPECT_EQ(claim.data(), nullptr);
    EXPECT_EQ(rx.try_claim().error(), errc::empty);
}

TYPED_TEST(RingApi, LengthAboveMaxPayloadIsAnError) {
    auto [tx, rx] = TypeParam::make(64);
    for (std::size_t len : {std::size_t{57}, std::size_t{64}, std::size_t{1} << 40,
                            std::numeric_limits<std::size_t>::max()}) {
        auto claim = tx.try_claim(len);
        EXPECT_FALSE(claim) << len;
        EXPECT_EQ(claim.error(), errc::too_large) << len;
    }
    // The boundary itself is fine.
    auto claim = tx.try_claim(56);
    EXPECT_TRUE(claim);
    EXPECT_EQ(claim.error(), errc{});
}

// ---- write / read ------------------------------------------------------

TYPED_TEST(RingApi, EmptyRingReportsEmpty) {
    auto [tx, rx] = TypeParam::make(64);
    auto claim = rx.try_claim();
    EXPECT_FALSE(claim);
    EXPECT_EQ(claim.error(), errc::empty);
    EXPECT_EQ(claim.size(), 0u);
}

TYPED_TEST(RingApi, CommittedRecordsComeOutInOrderWithTheirBytes) {
    auto [tx, rx] = TypeParam::make(256);
    write_string(tx, "hello");
    write_string(tx, "x");
    write_string(tx, "a record of exactly 32 bytes....");
    EXPECT_EQ(read_string(rx), "hello");
    EXPECT_EQ(read_string(rx), "x");
    EXPECT_EQ(read_string(rx), "a record of exactly 32 bytes....");
    EXPECT_EQ(read_string(rx), "<nothing to read>");
}

TYPED_TEST(RingApi, ClaimAccessorsDescribeTheSpace) {
    auto [tx, rx] = TypeParam::make(64);
    auto claim = tx.try_claim(13);
    ASSERT_TRUE(claim);
    EXPECT_EQ(claim.size(), 13u);
    EXPECT_EQ(claim.bytes().size(), 13u);
    EXPECT_EQ(claim.bytes().data(), claim.data());
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(claim.data()) % 8, 0u) << "payload 8-aligned";
    EXPECT_TRUE(all_zero(claim.bytes())) << "fresh space is zeroed";
    fill_record(claim.bytes(), 1, 2);
    claim.commit();
    EXPECT_FALSE(claim) << "a committed claim is spent";

    auto read = rx.try_claim();
    ASSERT_TRUE(read);
    EXPECT_EQ(read.error(), errc{});
    EXPECT_EQ(read.size(), 13u);
    EXPECT_EQ(read.bytes().data(), read.data());
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(read.data()) % 8, 0u);
    EXPECT_TRUE(record_matches(read.bytes(), 1, 2));
}

TYPED_TEST(RingApi, UncommittedClaimIsInvisible) {
    auto [tx, rx] = TypeParam::make(64);
    auto claim = tx.try_claim(8);
    ASSERT_TRUE(claim);
    EXPECT_EQ(rx.try_claim().error(), errc::empty);
    claim.commit();
    EXPECT_TRUE(rx.try_claim());
}

TYPED_TEST(RingApi, CommitAndAbortOnSpentClaimDoNothing) {
    auto [tx, rx] = TypeParam::make(64);
    auto claim = tx.try_claim(8);
    claim.commit();
    claim.commit();
    claim.abort();
    logbuf::queue::write_claim empty(errc::full);
    empty.commit();
    empty.abort();
    EXPECT_EQ(empty.error(), errc::full);
    EXPECT_EQ(empty.data(), nullptr);
    auto read = rx.try_claim();
    ASSERT_TRUE(read);
    read.release();
    read.release();
    EXPECT_EQ(rx.try_claim().error(), errc::empty);
}

// ---- full --------------------------------------------------------------

TYPED_TEST(RingApi, FullRingRefusesThenAcceptsAfterRead) {
    auto [tx, rx] = TypeParam::make(64);
    // 4 records of 16 bytes (8 header + 8 payload) fill 64 bytes exactly.
    for (int i = 0; i < 4; ++i) {
        auto c = tx.try_claim(8);
        ASSERT_TRUE(c) << i;
        c.commit();
    }
    auto refused = tx.try_claim(1);
    EXPECT_FALSE(refused);
    EXPECT_EQ(refused.error(), errc::full);
    ASSERT_TRUE(rx.try_claim());  // released at end of statement
    auto accepted = tx.try_claim(8);
    EXPECT_TRUE(accepted);
    EXPECT_FALSE(tx.try_claim(1)) << "full again";
}

TYPED_TEST(RingApi, HeldReadClaimKeepsItsSpace) {
    auto [tx, rx] = TypeParam::make(32);
    auto c = tx.try_claim(24);  // 32 bytes: the whole ring
    ASSERT_TRUE(c);
    c.commit();
    auto read = rx.try_claim();
    ASSERT_TRUE(read);
    EXPECT_EQ(tx.try_claim(1).error(), errc::full) << "space returns only on release";
    read.release();
    EXPECT_TRUE(tx.try_claim(24));
}

TYPED_TEST(RingApi, SmallestRingCarriesOneMaxRecordAtATime) {
    auto [tx, rx] = TypeParam::make(16);
    EXPECT_EQ(tx.max_payload(), 8u);
    for (std::uint64_t lap = 0; lap < 50; ++lap) {
        auto c = tx.try_claim(8);
        ASSERT_TRUE(c) << lap;
        fill_record(c.bytes(), 0, lap);
        c.commit();
        EXPECT_EQ(tx.try_claim(1).error(), errc::full);
        auto r = rx.try_claim();
        ASSERT_TRUE(r);
        EXPECT_TRUE(record_matches(r.bytes(), 0, lap));
    }
    EXPECT_EQ(tx.try_claim(9).error(), errc::too_large);
}

// ---- abort -------------------------------------------------------------

TYPED_TEST(RingApi, AbortedClaimIsSkipped) {
    auto [tx, rx] = TypeParam::make(128);
    write_string(tx, "first");
    {
        auto c = tx.try_claim(20);
        ASSERT_TRUE(c);
        std::memset(c.data(), 0xAB, 20);  // written, then given up
        c.abort();
        EXPECT_FALSE(c);
    }
    write_string(tx, "second");
    EXPECT_EQ(read_string(rx), "first");
    EXPECT_EQ(read_string(rx), "second");
    EXPECT_EQ(read_string(rx), "<nothing to read>");
}

TYPED_TEST(RingApi, ClaimDroppedWithoutCommitIsAborted) {
    auto [tx, rx] = TypeParam::make(128);
    try {
        auto c = tx.try_claim(40);
        std::memset(c.data(), 0xCD, 40);
        throw std::runtime_error("producer failed half-way");
    } catch (const std::runtime_error&) {
    }
    write_string(tx, "after");
    EXPECT_EQ(read_string(rx), "after");
    // The aborted bytes were cleared: the next lap over them sees zeros.
    for (int i = 0; i < 8; ++i) {
        auto c = tx.try_claim(40);
        ASSERT_TRUE(c);
        EXPECT_TRUE(all_zero(c.bytes())) << "lap " << i;
        c.commit();
        EXPECT_TRUE(rx.try_claim());
    }
}

TYPED_TEST(RingApi, MoveAssigningOverALiveClaimAbortsIt) {
    auto [tx, rx] = TypeParam::make(128);
    auto a = tx.try_claim(8);
    auto b = tx.try_claim(8);
    ASSERT_TRUE(a && b);
    std::memcpy(b.data(), "bbbbbbbb", 8);
    a = std::move(b);  // the claim `a` held is aborted
    EXPECT_FALSE(b);
    EXPECT_EQ(b.error(), errc{});
    ASSERT_TRUE(a);
    a.commit();
    EXPECT_EQ(read_string(rx), "bbbbbbbb");
    EXPECT_EQ(read_string(rx), "<nothing to read>");
}

TYPED_TEST(RingApi, MovedReadClaimReleasesOnce) {
    auto [tx, rx] = TypeParam::make(64);
    write_string(tx, "one");
    write_string(tx, "two");
    {
        auto r = rx.try_claim();
        logbuf::queue::read_claim moved(std::move(r));
        EXPECT_FALSE(r);
        ASSERT_TRUE(moved);
        EXPECT_EQ(std::string(reinterpret_cast<const char*>(moved.data()), moved.size()), "one");
    }
    EXPECT_EQ(read_string(rx), "two");
}

// ---- drain -------------------------------------------------------------

TYPED_TEST(RingApi, DrainVisitsRecordsInOrderUpToMax) {
    auto [tx, rx] = TypeParam::make(1024);
    for (int i = 0; i < 10; ++i)
        write_string(tx, std::to_string(i));
    std::vector<std::string> seen;
    auto collect = [&](std::span<const std::byte> r) {
        seen.emplace_back(reinterpret_cast<const char*>(r.data()), r.size());
    };
    EXPECT_EQ(rx.drain(collect, 3), 3u);
    EXPECT_EQ(seen, (std::vector<std::string>{"0", "1", "2"}));
    EXPECT_EQ(rx.drain(collect), 7u);
    EXPECT_EQ(seen.size(), 10u);
    EXPECT_EQ(seen.back(), "9");
    EXPECT_EQ(rx.drain(collect), 0u);
    EXPECT_EQ(rx.drain(collect, 0), 0u);
}

TYPED_TEST(RingApi, DrainFreesTheSpace) {
    auto [tx, rx] = TypeParam::make(64);
    for (int round = 0; round < 20; ++round) {
        int written = 0;
        while (auto c = tx.try_claim(8)) {
            c.commit();
            ++written;
        }
        EXPECT_EQ(written, 4);
        EXPECT_EQ(rx.drain([](std::span<const std::byte>) {}), 4u);
    }
}

TYPED_TEST(RingApi, LongDrainHandsSpaceBackBeforeItEnds) {
    auto ring = TypeParam::make(256);  // no structured binding: Clang 14 cannot capture one
    auto& tx = ring.first;
    auto& rx = ring.second;
    for (int i = 0; i < 16; ++i)
        write_string(tx, "12345678");  // 16 x 16 B: full
    ASSERT_EQ(tx.try_claim(8).error(), errc::full);
    std::size_t seen = 0;
    bool claimed_mid_drain = false;
    rx.drain([&](std::span<const std::byte>) {
        // After half the ring is released, producers must have room again
        // although the batch is not over.
        if (++seen == 9 && !claimed_mid_drain) {
            auto c = tx.try_claim(8);
            claimed_mid_drain = static_cast<bool>(c);
            c.commit();
        }
    });
    EXPECT_TRUE(claimed_mid_drain);
    EXPECT_EQ(seen, 17u) << "the record written during the drain is delivered too";
}

TYPED_TEST(RingApi, DrainRedeliversTheRecordWhoseHandlerThrew) {
    auto [tx, rx] = TypeParam::make(256);
    for (int i = 0; i < 5; ++i)
        write_string(tx, std::to_string(i));
    std::vector<std::string> seen;
    auto throw_on_2 = [&](std::span<const std::byte> r) {
        std::string s(reinterpret_cast<const char*>(r.data()), r.size());
        if (s == "2") throw std::runtime_error("handler failed");
        seen.push_back(s);
    };
    EXPECT_THROW(rx.drain(throw_on_2), std::runtime_error);
    EXPECT_EQ(seen, (std::vector<std::string>{"0", "1"}));
    EXPECT_EQ(read_string(rx), "2") << "not lost";
    EXPECT_EQ(read_string(rx), "3");
}

// ---- MPSC: claim order, not commit order -------------------------------

TEST(MpscRing, UncommittedClaimHoldsBackLaterCommits) {
    auto [tx, rx] = logbuf::queue::mpsc::make(256);
    auto tx2 = tx;  // a second producer
    auto first = tx.try_claim(5);
    auto second = tx2.try_claim(6);
    ASSERT_TRUE(first && second);
    std::memcpy(second.data(), "second", 6);
    second.commit();
    EXPECT_EQ(rx.try_claim().error(), errc::empty) << "first is not committed yet";
    std::memcpy(first.data(), "first", 5);
    first.commit();
    EXPECT_EQ(read_string(rx), "first");
    EXPECT_EQ(read_string(rx), "second");
}

TEST(MpscRing, CopiedProducersShareOneRing) {
    auto [tx, rx] = logbuf::queue::mpsc::make(64);
    std::vector<logbuf::queue::mpsc::producer> producers(4, tx);
    for (auto& p : producers) {
        auto c = p.try_claim(8);
        ASSERT_TRUE(c);
        c.commit();
    }
    EXPECT_EQ(producers[0].try_claim(8).error(), errc::full);
    EXPECT_EQ(tx.try_claim(8).error(), errc::full);
    EXPECT_EQ(rx.drain([](std::span<const std::byte>) {}), 4u);
}

}  // namespace
