// Several read claims out at once: the natural loop, holding records to
// compare, releases in any order, drain() with claims out, claims that
// outlive their consumer. Both flavours.
#include "ring_test_support.hpp"

#include <logbuf/queue/mpsc.hpp>
#include <logbuf/queue/spsc.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <random>
#include <thread>
#include <utility>
#include <vector>

namespace {

using logbuf::errc;
using namespace logbuf_test;

template <class Ring>
class ReadClaims : public ::testing::Test {};
TYPED_TEST_SUITE(ReadClaims, ring_flavours);

template <class Producer>
bool put(Producer& tx, std::size_t len, std::uint64_t seq) {
    auto c = tx.try_claim(len);
    if (!c) return false;
    fill_record(c.bytes(), 0, seq);
    c.commit();
    return true;
}

std::size_t length_of(std::uint64_t seq) {
    return 1 + (seq * 13) % 40;
}

// for (auto r = rx.try_claim(); r; r = rx.try_claim()): the next claim is
// taken while the previous one is still held, on a small ring, with mixed
// lengths and laps. Every record arrives once, in order, intact.
TYPED_TEST(ReadClaims, NaturalLoopTakesTheNextWhileHoldingThePrevious) {
    auto [tx, rx] = TypeParam::make(64);
    std::uint64_t written = 0;
    std::uint64_t read = 0;
    for (int round = 0; round < 300; ++round) {
        while (put(tx, length_of(written), written))
            ++written;
        for (auto r = rx.try_claim(); r; r = rx.try_claim()) {
            ASSERT_EQ(r.size(), length_of(read)) << read;
            ASSERT_TRUE(record_matches(r.bytes(), 0, read)) << read;
            ++read;
        }
        ASSERT_EQ(read, written);
    }
    EXPECT_GT(written, 300u);
    EXPECT_EQ(rx.try_claim().error(), errc::empty);
}

TYPED_TEST(ReadClaims, TwoHeldRecordsKeepTheirBytes) {
    auto [tx, rx] = TypeParam::make(256);
    ASSERT_TRUE(put(tx, 40, 1));
    ASSERT_TRUE(put(tx, 17, 2));
    auto a = rx.try_claim();
    auto b = rx.try_claim();
    ASSERT_TRUE(a);
    ASSERT_TRUE(b);
    EXPECT_NE(a.data(), b.data());
    EXPECT_TRUE(record_matches(a.bytes(), 0, 1));
    EXPECT_TRUE(record_matches(b.bytes(), 0, 2));
    EXPECT_EQ(rx.try_claim().error(), errc::empty);
    // More records arrive while both are held; neither is disturbed.
    ASSERT_TRUE(put(tx, 30, 3));
    auto c = rx.try_claim();
    ASSERT_TRUE(c);
    EXPECT_TRUE(record_matches(c.bytes(), 0, 3));
    b.release();
    EXPECT_TRUE(record_matches(a.bytes(), 0, 1));
    EXPECT_TRUE(record_matches(c.bytes(), 0, 3));
}

// Space returns once every older claim is released: releasing a younger
// claim first frees nothing; releasing the oldest frees both.
TYPED_TEST(ReadClaims, SpaceReturnsOnlyWhenEveryOlderClaimIsReleased) {
    auto [tx, rx] = TypeParam::make(128);
    // Four 24-byte records (32 bytes each) fill the ring.
    for (std::uint64_t seq = 0; seq < 4; ++seq)
        ASSERT_TRUE(put(tx, 24, seq));
    EXPECT_EQ(tx.try_claim(24).error(), errc::full);
    auto a = rx.try_claim();
    auto b = rx.try_claim();
    auto c = rx.try_claim();
    ASSERT_TRUE(a && b && c);
    b.release();
    c.release();
    EXPECT_EQ(tx.try_claim(24).error(), errc::full) << "space behind a held claim came back";
    a.release();
    // a, b and c are free now: three records fit again, not four.
    for (std::uint64_t seq = 4; seq < 7; ++seq)
        EXPECT_TRUE(put(tx, 24, seq)) << seq;
    EXPECT_EQ(tx.try_claim(24).error(), errc::full);
    std::vector<std::uint64_t> seen;
    for (auto r = rx.try_claim(); r; r = rx.try_claim()) {
        std::uint64_t seq = 0;
        std::memcpy(&seq, r.data() + 4, 8);
        EXPECT_TRUE(record_matches(r.bytes(), 0, seq));
        seen.push_back(seq);
    }
    EXPECT_EQ(seen, (std::vector<std::uint64_t>{3, 4, 5, 6}));
}

TYPED_TEST(ReadClaims, DrainWithClaimsOutHandsOutTheRecordsAfterThem) {
    auto [tx, rx] = TypeParam::make(256);
    for (std::uint64_t seq = 0; seq < 5; ++seq)
        ASSERT_TRUE(put(tx, 20, seq));
    auto held = rx.try_claim();
    ASSERT_TRUE(held);
    std::vector<std::uint64_t> drained;
    const auto collect = [&](std::span<const std::byte> b) {
        std::uint64_t seq = 0;
        std::memcpy(&seq, b.data() + 4, 8);
        EXPECT_TRUE(record_matches(b, 0, seq));
        drained.push_back(seq);
    };
    EXPECT_EQ(rx.drain(collect, 2), 2u);
    EXPECT_EQ(drained, (std::vector<std::uint64_t>{1, 2}));
    EXPECT_TRUE(record_matches(held.bytes(), 0, 0));
    held.release();
    // Nothing vanished: 3 and 4 are still there.
    EXPECT_EQ(rx.drain(collect), 2u);
    EXPECT_EQ(drained, (std::vector<std::uint64_t>{1, 2, 3, 4}));
    // And all the space is back: the ring takes a record of max_payload().
    auto big = tx.try_claim(tx.max_payload());
    if (!big) {  // the wrap rule may first have planted padding
        EXPECT_EQ(rx.try_claim().error(), errc::empty);
        big = tx.try_claim(tx.max_payload());
    }
    EXPECT_TRUE(big);
}

TYPED_TEST(ReadClaims, ClaimsHeldAcrossSkipsAndTheWrapAreReleasedInAnyOrder) {
    auto [tx, rx] = TypeParam::make(128);
    std::mt19937 rng(7);
    std::uint64_t written = 0;
    std::uint64_t next_read = 0;
    std::vector<logbuf::queue::read_claim> held;
    std::vector<std::uint64_t> held_seq;
    for (int step = 0; step < 20000; ++step) {
        switch (rng() % 4) {
            case 0: {  // write, sometimes abort
                auto c = tx.try_claim(length_of(written + rng() % 3));
                if (!c) break;
                if (rng() % 5 == 0) {
                    c.abort();
                    break;
                }
                fill_record(c.bytes(), 0, written);
                c.commit();
                ++written;
                break;
            }
            case 1: {  // claim one more
                auto r = rx.try_claim();
                if (!r) {
                    EXPECT_EQ(r.error(), errc::empty);
                    EXPECT_EQ(next_read, written);
                    break;
                }
                ASSERT_TRUE(record_matches(r.bytes(), 0, next_read)) << next_read;
                held_seq.push_back(next_read++);
                held.push_back(std::move(r));
                break;
            }
            case 2:  // release a random one
                if (!held.empty()) {
                    const std::size_t i = rng() % held.size();
                    ASSERT_TRUE(record_matches(held[i].bytes(), 0, held_seq[i]));
                    held[i].release();
                    held.erase(held.begin() + static_cast<std::ptrdiff_t>(i));
                    held_seq.erase(held_seq.begin() + static_cast<std::ptrdiff_t>(i));
                }
                break;
            case 3:  // drain a few behind the held ones
                rx.drain(
                    [&](std::span<const std::byte> b) {
                        ASSERT_TRUE(record_matches(b, 0, next_read)) << next_read;
                        ++next_read;
                    },
                    rng() % 3);
                break;
        }
        for (std::size_t i = 0; i < held.size(); ++i)
            ASSERT_TRUE(record_matches(held[i].bytes(), 0, held_seq[i])) << "held " << held_seq[i];
    }
    held.clear();
    rx.drain([&](std::span<const std::byte> b) {
        ASSERT_TRUE(record_matches(b, 0, next_read));
        ++next_read;
    });
    EXPECT_EQ(next_read, written);
    EXPECT_GT(written, 2000u);
    // Everything released: a whole-ring record fits.
    auto big = tx.try_claim(tx.max_payload());
    if (!big) {
        EXPECT_EQ(rx.try_claim().error(), errc::empty);
        big = tx.try_claim(tx.max_payload());
    }
    EXPECT_TRUE(big);
}

// A claim may outlive its consumer (and every producer): its bytes stay valid
// and releasing it frees the ring. ASan checks that nothing is used after free.
TYPED_TEST(ReadClaims, ClaimOutlivesItsConsumer) {
    std::optional<logbuf::queue::read_claim> a;
    std::optional<logbuf::queue::read_claim> b;
    {
        auto [tx, rx] = TypeParam::make(128);
        ASSERT_TRUE(put(tx, 30, 1));
        ASSERT_TRUE(put(tx, 30, 2));
        a.emplace(rx.try_claim());
        b.emplace(rx.try_claim());
        ASSERT_TRUE(*a && *b);
    }
    EXPECT_TRUE(record_matches(a->bytes(), 0, 1));
    EXPECT_TRUE(record_matches(b->bytes(), 0, 2));
    a->release();
    EXPECT_TRUE(record_matches(b->bytes(), 0, 2));
    b.reset();  // the last one frees the ring
    a.reset();
}

TYPED_TEST(ReadClaims, MovedConsumerKeepsItsClaimsValid) {
    auto [tx, rx] = TypeParam::make(128);
    ASSERT_TRUE(put(tx, 30, 1));
    ASSERT_TRUE(put(tx, 30, 2));
    auto a = rx.try_claim();
    auto moved = std::move(rx);
    auto b = moved.try_claim();
    ASSERT_TRUE(a && b);
    EXPECT_TRUE(record_matches(b.bytes(), 0, 2));
    a.release();
    b.release();
    EXPECT_EQ(moved.try_claim().error(), errc::empty);
    // Move-assigning a consumer over one with claims out keeps those valid.
    ASSERT_TRUE(put(tx, 30, 3));
    auto c = moved.try_claim();
    ASSERT_TRUE(c);
    auto [tx2, rx2] = TypeParam::make(64);
    moved = std::move(rx2);
    EXPECT_TRUE(record_matches(c.bytes(), 0, 3));
    c.release();
}

// A consumer thread that keeps up to four claims and releases them in a
// random order, against a producer thread writing all the time.
TYPED_TEST(ReadClaims, ThreadedConsumerHoldingSeveralClaims) {
    auto [tx, rx] = TypeParam::make(1024);
    constexpr std::uint64_t total = 40'000 / sanitizer_divisor;
    std::thread producer([&tx = tx] {
        for (std::uint64_t seq = 0; seq < total;) {
            if (put(tx, length_of(seq) + 11, seq)) {
                ++seq;
            } else {
                std::this_thread::yield();
            }
        }
    });
    std::mt19937 rng(3);
    std::deque<logbuf::queue::read_claim> held;
    std::deque<std::uint64_t> held_seq;
    std::uint64_t next = 0;
    std::uint64_t bad = 0;
    while (next < total || !held.empty()) {
        if (held.size() < 4 && next < total) {
            if (auto r = rx.try_claim()) {
                if (!record_matches(r.bytes(), 0, next) || r.size() != length_of(next) + 11) ++bad;
                held_seq.push_back(next++);
                held.push_back(std::move(r));
                continue;
            }
        }
        if (held.empty()) {
            std::this_thread::yield();
            continue;
        }
        const std::size_t i = rng() % held.size();
        if (!record_matches(held[i].bytes(), 0, held_seq[i])) ++bad;
        held.erase(held.begin() + static_cast<std::ptrdiff_t>(i));
        held_seq.erase(held_seq.begin() + static_cast<std::ptrdiff_t>(i));
    }
    producer.join();
    EXPECT_EQ(bad, 0u);
    EXPECT_EQ(next, total);
    EXPECT_EQ(rx.try_claim().error(), errc::empty);
}

}  // namespace
