// The wrap rule and many laps of random traffic in one thread, checked byte
// for byte against a model of what was committed.
#include "ring_test_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <optional>
#include <random>
#include <vector>

namespace {

using logbuf::errc;
using namespace logbuf_test;

template <class Ring>
class RingWrap : public ::testing::Test {};
TYPED_TEST_SUITE(RingWrap, ring_flavours);

// Moves the ring's tail (and head) to `offset` by passing one record through.
template <class Producer, class Consumer>
void advance_to(Producer& tx, Consumer& rx, std::size_t offset) {
    if (offset == 0) return;
    auto c = tx.try_claim(offset - 8);  // header 8 + payload = offset bytes
    ASSERT_TRUE(c) << offset;
    c.commit();
    ASSERT_TRUE(rx.try_claim());
}

// A refused claim may have written wrap padding that the record would
// overlap; it fits once the consumer has passed that padding. If the padding
// itself did not fit at first, the first catch-up lets the padding in and the
// second lets the record in: never more than two.
template <class Producer, class Consumer>
logbuf::queue::write_claim catch_up_and_claim(Producer& tx, Consumer& rx,
                                              logbuf::queue::write_claim claim, std::size_t len) {
    for (int catch_up = 0; !claim && catch_up < 2; ++catch_up) {
        EXPECT_EQ(claim.error(), errc::full);
        EXPECT_EQ(rx.try_claim().error(), errc::empty) << "nothing but padding is left";
        claim = tx.try_claim(len);
    }
    return claim;
}

// The wrap rule: any record with len <= max_payload() can be written once the
// consumer has caught up, wherever the tail stands. (The Rust original
// refuses a record larger than both halves of an empty ring for ever.)
TYPED_TEST(RingWrap, AnyRecordFitsOnceTheConsumerCaughtUp) {
    for (std::size_t capacity : {16u, 64u, 128u}) {
        // Offset 8 cannot occur: every record and skip region spans >= 16
        // bytes, and a wrap lands the tail at a record's end.
        for (std::size_t offset = 0; offset < capacity; offset += (offset == 0 ? 16 : 8)) {
            for (std::size_t len = 1; len <= capacity - 8; ++len) {
                auto [tx, rx] = TypeParam::make(capacity);
                advance_to(tx, rx, offset);
                auto claim = tx.try_claim(len);
                // The consumer catches up (passing the wrap padding); see
                // catch_up_and_claim for why twice may be needed.
                claim = catch_up_and_claim(tx, rx, std::move(claim), len);
                ASSERT_TRUE(claim)
                    << "capacity " << capacity << " offset " << offset << " len " << len;
                fill_record(claim.bytes(), 3, len);
                claim.commit();
                auto read = rx.try_claim();
                ASSERT_TRUE(read);
                ASSERT_EQ(read.size(), len);
                EXPECT_TRUE(record_matches(read.bytes(), 3, len));
            }
        }
    }
}

TYPED_TEST(RingWrap, RecordThatFitsWithItsPaddingIsAcceptedAtOnce) {
    auto [tx, rx] = TypeParam::make(64);
    advance_to(tx, rx, 48);         // 16 bytes to the end, the rest is free
    auto claim = tx.try_claim(24);  // 32 bytes: padding 16 + record 32 = 48 <= 64
    ASSERT_TRUE(claim);
    claim.commit();
    auto read = rx.try_claim();
    ASSERT_TRUE(read);
    EXPECT_EQ(read.size(), 24u);
}

TYPED_TEST(RingWrap, PaddingAloneIsWrittenWhenRecordDoesNotFitYet) {
    auto [tx, rx] = TypeParam::make(64);
    advance_to(tx, rx, 32);
    // A 56-byte payload (64 bytes) cannot go before the end; padding (32)
    // plus record (64) exceeds the ring. The padding is claimed now...
    EXPECT_EQ(tx.try_claim(56).error(), errc::full);
    // ...so once the consumer passes it the whole ring is free at offset 0.
    EXPECT_EQ(rx.try_claim().error(), errc::empty);
    auto claim = tx.try_claim(56);
    ASSERT_TRUE(claim);
    claim.commit();
    EXPECT_EQ(rx.try_claim().size(), 56u);
}

// Random traffic: claims of random length, some aborted, some dropped, reads
// and drains interleaved, against a deque of what must come out.
TYPED_TEST(RingWrap, RandomLapsMatchTheModel) {
    for (std::size_t capacity : {16u, 48u, 64u, 256u, 4096u}) {
        auto [tx, rx] = TypeParam::make(capacity);
        const std::size_t max = tx.max_payload();
        std::mt19937_64 rng(capacity);
        std::deque<std::pair<std::size_t, std::uint64_t>> expected;  // (len, seq)
        std::uint64_t sequence = 0;
        std::uint64_t bytes_through = 0;
        std::uint64_t full_seen = 0;
        auto check_front = [&](std::span<const std::byte> r) {
            ASSERT_FALSE(expected.empty());
            ASSERT_EQ(r.size(), expected.front().first);
            ASSERT_TRUE(record_matches(r, 7, expected.front().second));
            bytes_through += r.size();
            expected.pop_front();
        };
        for (int step = 0; step < 40000; ++step) {
            const auto action = rng() % 10;
            if (action < 5) {  // write
                // Mostly small, sometimes up to the maximum.
                const std::size_t len =
                    1 + ((rng() % 4 == 0) ? rng() % max : rng() % std::min<std::size_t>(max, 40));
                auto c = tx.try_claim(len);
                if (!c) {
                    ASSERT_EQ(c.error(), errc::full);
                    ++full_seen;
                    if (expected.empty()) {
                        // Nothing committed is held back: catching up must let
                        // the record in.
                        c = catch_up_and_claim(tx, rx, std::move(c), len);
                        ASSERT_TRUE(c) << "refused in an empty ring, len " << len;
                    } else {
                        continue;
                    }
                }
                ASSERT_TRUE(all_zero(c.bytes())) << "claimed space must arrive zeroed";
                fill_record(c.bytes(), 7, sequence);
                const auto fate = rng() % 8;
                if (fate == 0) {
                    c.abort();
                } else if (fate == 1) {
                    // dropped: the destructor aborts
                } else {
                    c.commit();
                    expected.emplace_back(len, sequence);
                }
                ++sequence;
            } else if (action < 8) {  // read one
                auto r = rx.try_claim();
                if (expected.empty()) {
                    ASSERT_FALSE(r);
                    ASSERT_EQ(r.error(), errc::empty);
                } else {
                    ASSERT_TRUE(r);
                    check_front(r.bytes());
                }
            } else {  // drain some
                const std::size_t want = rng() % 5;
                const std::size_t before = expected.size();
                const std::size_t got = rx.drain(check_front, want);
                ASSERT_EQ(got, std::min(want, before));
            }
        }
        rx.drain(check_front);
        EXPECT_TRUE(expected.empty());
        EXPECT_GT(bytes_through, 20 * capacity) << "many laps";
        EXPECT_GT(full_seen, 0u) << "the full path was exercised";
    }
}

}  // namespace
