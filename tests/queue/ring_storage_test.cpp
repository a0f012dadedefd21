// The storage seam: a ring over positions and a buffer the caller provides
// (as a memory-mapped file does), the consumer's checks of untrusted headers,
// and moved-from handles.
#include "ring_test_support.hpp"

#include <logbuf/queue/consumer.hpp>
#include <logbuf/queue/details/record_format.hpp>
#include <logbuf/queue/details/ring.hpp>
#include <logbuf/queue/mpsc.hpp>
#include <logbuf/queue/spsc.hpp>

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <vector>

namespace {

using logbuf::errc;
namespace d = logbuf::queue::details;
using namespace logbuf_test;

// What a file-backed ring would map: the positions block, then the buffer,
// both in memory the ring does not own.
struct caller_storage {
    explicit caller_storage(std::size_t capacity)
        : positions(std::make_shared<d::ring_positions>()), buffer(capacity) {}
    std::shared_ptr<d::ring_positions> positions;
    alignas(64) std::vector<std::byte> buffer;
    [[nodiscard]] d::ring view() { return d::ring(*positions, buffer.data(), buffer.size()); }
};

template <class Headers>
logbuf::queue::basic_consumer<Headers> consumer_over(const d::ring& view) {
    return logbuf::queue::basic_consumer<Headers>(std::make_shared<d::reader>(view));
}

TEST(RingStorage, PositionsHaveFixedOffsetsOnLinesOfTheirOwn) {
    EXPECT_EQ(offsetof(d::ring_positions, tail), 0u);
    EXPECT_EQ(offsetof(d::ring_positions, head), 128u);
    EXPECT_EQ(sizeof(d::ring_positions), 384u);
}

TEST(RingStorage, ViewRefusesACapacityThatIsNotAPowerOfTwo) {
    d::ring_positions positions;
    std::vector<std::byte> buffer(64);
    EXPECT_THROW(d::ring(positions, buffer.data(), 48), std::invalid_argument);
    EXPECT_THROW(d::ring(positions, buffer.data(), 8), std::invalid_argument);
}

TEST(RingStorage, MpscOverCallerStorageCarriesRecordsAndWritesOnlyThere) {
    caller_storage s(256);
    const d::ring view = s.view();
    logbuf::queue::mpsc::producer tx(view, s.positions);
    auto rx = consumer_over<d::untrusted_headers>(view);
    for (std::uint64_t seq = 0; seq < 40; ++seq) {  // several laps
        const std::size_t len = 1 + (seq * 37) % 90;
        auto c = tx.try_claim(len);
        ASSERT_TRUE(c) << seq;
        EXPECT_GE(c.data(), s.buffer.data());
        EXPECT_LE(c.data() + len, s.buffer.data() + s.buffer.size());
        fill_record(c.bytes(), 3, seq);
        c.commit();
        auto r = rx.try_claim();
        ASSERT_TRUE(r) << seq;
        EXPECT_TRUE(record_matches(r.bytes(), 3, seq)) << seq;
    }
    EXPECT_EQ(s.positions->tail.load(), s.positions->head.load());
    EXPECT_GT(s.positions->tail.load(), 256u);
}

TEST(RingStorage, SpscOverCallerStorageDrains) {
    caller_storage s(128);
    const d::ring view = s.view();
    logbuf::queue::spsc::producer tx(view, s.positions);
    auto rx = consumer_over<d::trusted_headers>(view);
    std::uint64_t read = 0;
    for (std::uint64_t seq = 0; seq < 30; ++seq) {
        auto c = tx.try_claim(20);
        ASSERT_TRUE(c);
        fill_record(c.bytes(), 1, seq);
        c.commit();
        rx.drain([&](std::span<const std::byte> b) { EXPECT_TRUE(record_matches(b, 1, read++)); });
    }
    EXPECT_EQ(read, 30u);
}

// A consumer over a buffer another process can write: a header describing a
// record that does not fit is never used; the consumer stops there.
TEST(RingStorage, UntrustedConsumerStopsAtAHeaderThatDoesNotFit) {
    for (const d::header_word bad : {
             d::header_word{1} << 40,      // longer than the buffer
             d::header_word{120},          // 8 + 120 fits the capacity, not before the end
             d::skip_header(0),            // a skip of nothing would never move
             d::skip_header(12),           // not a multiple of 8
             d::skip_header(1 << 20),      // past the end of the buffer
             d::skip_header(128 - 8 + 8),  // one word past the end
         }) {
        caller_storage s(128);
        const d::ring view = s.view();
        // A well-formed record first, then the bad header at offset 24.
        logbuf::queue::mpsc::producer tx(view, s.positions);
        auto c = tx.try_claim(16);
        ASSERT_TRUE(c);
        fill_record(c.bytes(), 0, 0);
        c.commit();
        d::header_of(s.buffer.data() + 24).store(bad);
        auto rx = consumer_over<d::untrusted_headers>(view);
        auto first = rx.try_claim();
        ASSERT_TRUE(first) << bad;
        EXPECT_TRUE(record_matches(first.bytes(), 0, 0));
        first.release();
        EXPECT_EQ(rx.try_claim().error(), errc::empty) << bad;
        EXPECT_EQ(rx.drain([](std::span<const std::byte>) {}), 0u) << bad;
    }
}

TEST(RingStorage, UntrustedConsumerAcceptsEveryWellFormedHeader) {
    caller_storage s(128);
    const d::ring view = s.view();
    logbuf::queue::mpsc::producer tx(view, s.positions);
    auto rx = consumer_over<d::untrusted_headers>(view);
    // The largest record, then padding to the end and a record at offset 0.
    for (std::size_t len : {std::size_t{120}, std::size_t{50}, std::size_t{70}}) {
        auto c = tx.try_claim(len);
        if (!c) {  // the wrap rule: the padding went in alone; pass it and retry
            EXPECT_EQ(rx.try_claim().error(), errc::empty);
            c = tx.try_claim(len);
        }
        ASSERT_TRUE(c) << len;
        fill_record(c.bytes(), 2, len);
        c.commit();
        auto r = rx.try_claim();
        ASSERT_TRUE(r) << len;
        EXPECT_TRUE(record_matches(r.bytes(), 2, len));
    }
}

template <class Ring>
class MovedFrom : public ::testing::Test {};
TYPED_TEST_SUITE(MovedFrom, ring_flavours);

TYPED_TEST(MovedFrom, ProducerAndConsumerReportDisconnected) {
    auto [tx, rx] = TypeParam::make(64);
    auto tx2 = std::move(tx);
    auto rx2 = std::move(rx);
    auto w = tx.try_claim(8);  // NOLINT(bugprone-use-after-move): the point of the test
    EXPECT_FALSE(w);
    EXPECT_EQ(w.error(), errc::disconnected);
    EXPECT_EQ(tx.capacity(), 0u);
    EXPECT_EQ(tx.max_payload(), 0u);
    auto r = rx.try_claim();  // NOLINT(bugprone-use-after-move)
    EXPECT_FALSE(r);
    EXPECT_EQ(r.error(), errc::disconnected);
    EXPECT_EQ(rx.drain([](std::span<const std::byte>) {}), 0u);
    EXPECT_EQ(rx.capacity(), 0u);
    // The handles they moved into work.
    auto c = tx2.try_claim(8);
    ASSERT_TRUE(c);
    c.commit();
    EXPECT_TRUE(rx2.try_claim());
    // Moving a live handle onto a moved-from one revives it.
    tx = std::move(tx2);
    EXPECT_TRUE(tx.try_claim(8));
    EXPECT_EQ(tx2.try_claim(8).error(), errc::disconnected);  // NOLINT(bugprone-use-after-move)
}

TEST(MovedFromClaims, DefaultAndMovedFromClaimsDoNothing) {
    logbuf::queue::write_claim w;
    w.commit();
    w.abort();
    EXPECT_FALSE(w);
    EXPECT_EQ(w.error(), errc{});
    logbuf::queue::read_claim r;
    r.release();
    EXPECT_FALSE(r);
    EXPECT_EQ(r.error(), errc{});
}

}  // namespace
