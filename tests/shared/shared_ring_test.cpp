// The shared ring used from one process: the queue API over a file, its
// errors, unblock() and what a late commit or abort after it can and
// cannot do.
#include "shared_test_support.hpp"

#include <logbuf/queue/shared.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>

namespace {

namespace qs = logbuf::queue::shared;
using logbuf::errc;
using shared_test::decode;
using shared_test::fill;
using shared_test::length_of;
using shared_test::ring_path;

// `len` >= 12 (the stamp).
bool send(qs::producer& tx, std::uint32_t source, std::uint64_t sequence, std::size_t len) {
    auto c = tx.try_claim(len);
    if (!c) return false;
    fill(c.bytes(), source, sequence);
    c.commit();
    return true;
}

// Collects the sequence numbers of the records it is given; counts the ones
// that do not decode.
struct sequences {
    std::vector<std::uint64_t> seen;
    std::size_t bad = 0;
    void operator()(std::span<const std::byte> r) {
        std::uint32_t s = 0;
        std::uint64_t q = 0;
        if (decode(r, s, q))
            seen.push_back(q);
        else
            ++bad;
    }
};

std::vector<std::uint64_t> drain_sequences(qs::consumer& rx) {
    sequences got;
    rx.drain(std::ref(got));
    EXPECT_EQ(got.bad, 0u);
    return got.seen;
}

TEST(SharedRing, RecordsComeOutInOrderAcrossManyLaps) {
    ring_path path("laps");
    auto rx = qs::create(path, 256);
    auto tx = qs::open(path);
    auto tx2 = tx;  // a copy is one more producer
    std::uint64_t sent[2] = {0, 0}, got[2] = {0, 0};
    std::size_t received = 0;
    for (int round = 0; round < 4000; ++round) {
        const auto source = static_cast<std::uint32_t>(round % 2);
        qs::producer& p = source ? tx2 : tx;
        if (send(p, source, sent[source], length_of(source, sent[source], 120))) ++sent[source];
        if (round % 3 == 0) {
            received += rx.drain([&](std::span<const std::byte> r) {
                std::uint32_t s = 0;
                std::uint64_t q = 0;
                ASSERT_TRUE(decode(r, s, q));
                ASSERT_LT(s, 2u);
                ASSERT_EQ(q, got[s]);
                ASSERT_EQ(r.size(), length_of(s, q, 120));
                ++got[s];
            });
        }
    }
    received += rx.drain([&](std::span<const std::byte> r) {
        std::uint32_t s = 0;
        std::uint64_t q = 0;
        ASSERT_TRUE(decode(r, s, q));
        ASSERT_EQ(q, got[s]++);
    });
    EXPECT_EQ(received, sent[0] + sent[1]);
    EXPECT_EQ(got[0], sent[0]);
    EXPECT_EQ(got[1], sent[1]);
    EXPECT_GT(sent[0] + sent[1], 1000u);
}

TEST(SharedRing, TryClaimHandsOutRecords) {
    ring_path path("try_claim");
    auto rx = qs::create(path, 1024);
    auto tx = qs::open(path);
    ASSERT_TRUE(send(tx, 7, 0, 40));
    ASSERT_TRUE(send(tx, 7, 1, 41));
    {
        auto r = rx.try_claim();
        ASSERT_TRUE(r);
        std::uint32_t s = 0;
        std::uint64_t q = 0;
        EXPECT_TRUE(decode(r.bytes(), s, q));
        EXPECT_EQ(q, 0u);
    }
    auto r = rx.try_claim();
    ASSERT_TRUE(r);
    EXPECT_EQ(r.size(), 41u);
    r.release();
    EXPECT_EQ(rx.try_claim().error(), errc::empty);
}

TEST(SharedRing, BadLengthsAndAFullRingAreErrors) {
    ring_path path("errors");
    auto rx = qs::create(path, 64);
    auto tx = qs::open(path);
    EXPECT_EQ(tx.try_claim(0).error(), errc::zero_length);
    EXPECT_EQ(tx.try_claim(57).error(), errc::too_large);
    auto big = tx.try_claim(56);
    ASSERT_TRUE(big);
    EXPECT_EQ(tx.try_claim(1).error(), errc::full);
    big.commit();
    EXPECT_EQ(rx.drain([](std::span<const std::byte>) {}), 1u);
    EXPECT_TRUE(tx.try_claim(56));  // aborted at once: a skip
}

TEST(SharedRing, MovedFromHandlesAreDisconnected) {
    ring_path path("moved");
    auto rx = qs::create(path, 64);
    auto tx = qs::open(path);
    auto tx2 = std::move(tx);
    auto rx2 = std::move(rx);
    EXPECT_EQ(tx.try_claim(8).error(), errc::disconnected);  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(tx.capacity(), 0u);
    EXPECT_EQ(rx.try_claim().error(), errc::disconnected);  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(rx.drain([](std::span<const std::byte>) {}), 0u);
    EXPECT_EQ(rx.unblock(std::chrono::nanoseconds(0)), 0u);
    EXPECT_TRUE(tx2.try_claim(8));
    EXPECT_EQ(rx2.capacity(), 64u);
}

TEST(SharedRing, AbortedClaimsAreSkipped) {
    ring_path path("abort");
    auto rx = qs::create(path, 128);
    auto tx = qs::open(path);
    for (int i = 0; i < 50; ++i) {
        {
            auto c = tx.try_claim(20);
            ASSERT_TRUE(c);
            std::memset(c.data(), 0xAB, 20);
        }  // aborted
        ASSERT_TRUE(send(tx, 1, static_cast<std::uint64_t>(i), 30));
        std::uint64_t seen = 0;
        EXPECT_EQ(rx.drain([&](std::span<const std::byte> r) {
            std::uint32_t s = 0;
            ASSERT_TRUE(decode(r, s, seen));
        }),
                  1u);
        EXPECT_EQ(seen, static_cast<std::uint64_t>(i));
    }
}

TEST(SharedRing, UnblockSkipsAStalledClaimAndKeepsTheRecordsBehindIt) {
    ring_path path("unblock");
    auto rx = qs::create(path, 1024);
    auto tx = qs::open(path);
    auto stalled = tx.try_claim(100);  // its producer "died" here
    ASSERT_TRUE(stalled);
    std::memset(stalled.data(), 0xEE, 50);  // half written
    ASSERT_TRUE(send(tx, 2, 0, 60));
    ASSERT_TRUE(send(tx, 2, 1, 70));
    EXPECT_EQ(rx.try_claim().error(), errc::empty);  // held up
    EXPECT_EQ(rx.unblock(std::chrono::hours(1)), 0u);
    EXPECT_EQ(rx.unblock(std::chrono::hours(1)), 0u);
    EXPECT_EQ(rx.unblock(std::chrono::nanoseconds(0)), 1u);
    EXPECT_EQ(drain_sequences(rx), (std::vector<std::uint64_t>{0, 1}));
    // The producer was alive after all: its late commit lands in space the
    // consumer has released, not behind the tail: nothing comes out of it
    // (it can spoil a record claimed there later: see below).
    stalled.commit();
    EXPECT_EQ(rx.try_claim().error(), errc::empty);
    ASSERT_TRUE(send(tx, 2, 2, 16));
    EXPECT_EQ(rx.drain([](std::span<const std::byte> r) {
        std::uint32_t s = 0;
        std::uint64_t q = 0;
        ASSERT_TRUE(decode(r, s, q));
        ASSERT_EQ(q, 2u);
    }),
              1u);
}

TEST(SharedRing, UnblockCountsFromWhenItFirstFoundTheClaim) {
    ring_path path("unblock_time");
    auto rx = qs::create(path, 1024);
    auto tx = qs::open(path);
    auto stalled = tx.try_claim(16);
    ASSERT_TRUE(stalled);
    const auto timeout = std::chrono::milliseconds(100);
    EXPECT_EQ(rx.unblock(timeout), 0u);  // first seen now
    std::this_thread::sleep_for(timeout + std::chrono::milliseconds(20));
    EXPECT_EQ(rx.unblock(timeout), 1u);
    stalled.abort();  // late: a skip of the same size over unblock()'s skip
    EXPECT_EQ(rx.try_claim().error(), errc::empty);
    ASSERT_TRUE(send(tx, 2, 7, 16));
    EXPECT_EQ(drain_sequences(rx), (std::vector<std::uint64_t>{7}));
}

TEST(SharedRing, UnblockTakesEveryStalledClaimBehindTheFirst) {
    ring_path path("unblock_many");
    auto rx = qs::create(path, 1024);
    auto tx = qs::open(path);
    auto a = tx.try_claim(10);
    ASSERT_TRUE(send(tx, 3, 0, 20));
    auto b = tx.try_claim(30);
    ASSERT_TRUE(send(tx, 3, 1, 40));
    auto c = tx.try_claim(50);
    ASSERT_TRUE(a && b && c);
    EXPECT_EQ(rx.unblock(std::chrono::nanoseconds(0)), 3u);
    EXPECT_EQ(drain_sequences(rx), (std::vector<std::uint64_t>{0, 1}));
    // Their producers resume after the consumer passed them: the late
    // commits and abort land in released space, and the ring goes on.
    a.commit();
    b.abort();
    c.commit();
    EXPECT_EQ(rx.try_claim().error(), errc::empty);
    ASSERT_TRUE(send(tx, 3, 2, 16));
    EXPECT_EQ(drain_sequences(rx), (std::vector<std::uint64_t>{2}));
}

// The known limit: a producer presumed dead that resumes writes into space
// the ring may have reused - its payload bytes and its commit alike - and
// can spoil the records there. What must hold even then: the consumer never
// reads outside the ring, never hangs for longer than unblock() lets it,
// and records claimed once the consumer is past the spoiled space come
// through again.
TEST(SharedRing, AResumedProducerSpoilsOnlyTheSpaceItHeld) {
    ring_path path("resumed");
    auto rx = qs::create(path, 256);
    auto tx = qs::open(path);
    auto late = tx.try_claim(16);  // offset 0, a 24-byte record; stops here
    ASSERT_TRUE(late);
    EXPECT_EQ(rx.unblock(std::chrono::nanoseconds(0)), 1u);
    EXPECT_EQ(rx.try_claim().error(), errc::empty);  // passes the skip, frees it
    ASSERT_TRUE(send(tx, 4, 0, 224));                // 24..256: the rest of the lap
    EXPECT_EQ(drain_sequences(rx), (std::vector<std::uint64_t>{0}));
    auto reuse = tx.try_claim(100);  // offset 0 again, another length
    ASSERT_TRUE(reuse);
    ASSERT_EQ(reuse.data(), late.data());
    fill(reuse.bytes(), 4, 1);
    late.commit();  // resumes: its length over reuse's mark
    std::size_t spoiled = 0;
    rx.drain([&](std::span<const std::byte> r) {  // a record of late's length, reuse's bytes
        ASSERT_LE(r.size(), rx.max_payload());
        ++spoiled;
    });
    EXPECT_EQ(spoiled, 1u);
    reuse.commit();          // behind the consumer now, which reads inside its payload
    std::uint64_t last = 1;  // the last sequence sent
    std::vector<std::uint64_t> good;
    for (int round = 0; round < 20; ++round) {
        if (send(tx, 4, last + 1, 16 + static_cast<std::size_t>(round))) ++last;
        rx.drain([&](std::span<const std::byte> r) {
            ASSERT_LE(r.size(), rx.max_payload());
            std::uint32_t s = 0;
            std::uint64_t q = 0;
            if (decode(r, s, q)) good.push_back(q);
        });
        (void)rx.unblock(std::chrono::nanoseconds(0));  // a stall: moved on at once
    }
    EXPECT_GE(last, 15u);  // the ring did not stay full
    // The spoiled space cost reuse's record (1) and the one sent while the
    // consumer was stuck inside reuse's payload (2, passed over by
    // unblock()); every later one comes out, in order, none missing.
    ASSERT_FALSE(good.empty());
    EXPECT_LE(good.front(), 3u);
    EXPECT_EQ(good.back(), last);
    EXPECT_EQ(good.size(), last - good.front() + 1);
    EXPECT_TRUE(std::is_sorted(good.begin(), good.end()));
}

// A late commit or abort into free space at the consumer's own position
// (the ring went round once since the claim): no claim made that header, so
// it is neither a record nor a skip to pass. Taking it moved the consumer
// past the tail, lost the next record and made the file unopenable
// ("inconsistent positions").
void late_end_at_the_tail(bool commit) {
    ring_path path(commit ? "late_commit_at_tail" : "late_abort_at_tail");
    auto rx = qs::create(path, 256);
    auto tx = qs::open(path);
    auto late = tx.try_claim(16);  // offset 0: a 24-byte record
    ASSERT_TRUE(late);
    EXPECT_EQ(rx.unblock(std::chrono::nanoseconds(0)), 1u);
    EXPECT_EQ(rx.try_claim().error(), errc::empty);
    ASSERT_TRUE(send(tx, 8, 0, 224));  // 24..256: the rest of the lap
    EXPECT_EQ(drain_sequences(rx), (std::vector<std::uint64_t>{0}));
    if (commit)
        late.commit();  // lands at offset 0 = position 256 = the tail
    else
        late.abort();
    EXPECT_EQ(rx.try_claim().error(), errc::empty);
    EXPECT_EQ(rx.drain([](std::span<const std::byte>) {}), 0u);
    EXPECT_NO_THROW((void)qs::open(path));  // positions still consistent
    std::size_t left = 1;
    EXPECT_NO_THROW(left = qs::recover(path, [](std::span<const std::byte>) {}));
    EXPECT_EQ(left, 0u);
    // The next claims there overwrite the late header; nothing is lost.
    ASSERT_TRUE(send(tx, 8, 1, 40));
    ASSERT_TRUE(send(tx, 8, 2, 16));
    EXPECT_EQ(drain_sequences(rx), (std::vector<std::uint64_t>{1, 2}));
}

TEST(SharedRing, ALateCommitAtTheTailIsNoRecord) {
    late_end_at_the_tail(true);
}
TEST(SharedRing, ALateAbortAtTheTailIsNotPassed) {
    late_end_at_the_tail(false);
}

TEST(SharedRing, UnblockLeavesCommittedAndEmptyRingsAlone) {
    ring_path path("unblock_idle");
    auto rx = qs::create(path, 256);
    auto tx = qs::open(path);
    EXPECT_EQ(rx.unblock(std::chrono::nanoseconds(0)), 0u);  // empty
    ASSERT_TRUE(send(tx, 5, 0, 16));
    EXPECT_EQ(rx.unblock(std::chrono::nanoseconds(0)), 0u);  // committed
    EXPECT_EQ(rx.drain([](std::span<const std::byte>) {}), 1u);
}

TEST(SharedRing, RecoverReturnsWhatWasNotConsumed) {
    ring_path path("recover");
    {
        auto rx = qs::create(path, 1024);
        auto tx = qs::open(path);
        for (std::uint64_t i = 0; i < 6; ++i)
            ASSERT_TRUE(send(tx, 6, i, 50));
        auto dead = tx.try_claim(30);  // never committed
        std::memset(dead.data(), 0x55, 30);
        ASSERT_TRUE(send(tx, 6, 6, 50));
        EXPECT_EQ(rx.drain([](std::span<const std::byte>) {}, 2), 2u);
        auto r = rx.try_claim();  // handed out, not released
        ASSERT_TRUE(r);
        new (&dead) qs::write_claim();  // leak it: as if the process died here
        r.release();
    }
    sequences got;
    EXPECT_EQ(qs::recover(path, std::ref(got)), 4u);
    EXPECT_EQ(got.seen, (std::vector<std::uint64_t>{3, 4, 5, 6}));
    EXPECT_EQ(got.bad, 0u);
}

}  // namespace
