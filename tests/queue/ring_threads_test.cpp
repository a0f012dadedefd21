// Cross-thread traffic: every byte, the order per producer, and the counts.
// Bounded by record counts, never by time.
#include "ring_test_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

namespace {

using logbuf::errc;
using namespace logbuf_test;

// Length of record `sequence` from `source`: a pure function, so the consumer
// knows what to expect without sharing state with the producer.
std::size_t length_of(std::uint32_t source, std::uint64_t sequence, std::size_t max_len) {
    std::uint64_t x = (sequence + 1) * 0x9E3779B97F4A7C15ull ^ (source + 1) * 0xBF58476D1CE4E5B9ull;
    x ^= x >> 31;
    return 1 + static_cast<std::size_t>(x % max_len);
}

TEST(SpscThreads, MillionRecordsArriveIntactAndInOrder) {
    constexpr std::uint64_t records = 1'000'000 / sanitizer_divisor;
    auto [tx, rx] = logbuf::queue::spsc::make(64 * 1024);
    std::thread producer([&tx = tx] {
        for (std::uint64_t seq = 0; seq < records; ++seq) {
            const std::size_t len = length_of(0, seq, 200);
            for (;;) {
                auto c = tx.try_claim(len);
                if (c) {
                    fill_record(c.bytes(), 0, seq);
                    c.commit();
                    break;
                }
                ASSERT_EQ(c.error(), errc::full);
                std::this_thread::yield();
            }
        }
    });
    std::uint64_t next = 0;
    std::uint64_t bad = 0;
    while (next < records) {
        const auto n = rx.drain([&](std::span<const std::byte> r) {
            if (r.size() != length_of(0, next, 200) || !record_matches(r, 0, next)) ++bad;
            ++next;
        });
        if (n == 0) std::this_thread::yield();
    }
    producer.join();
    EXPECT_EQ(bad, 0u);
    EXPECT_EQ(next, records);
    EXPECT_EQ(rx.try_claim().error(), errc::empty);
}

// Three producers, a 4 KiB ring so that nearly every record wraps or waits,
// aborted and dropped claims mixed in. Record bytes name their producer and
// sequence; per producer, sequences must arrive strictly increasing, and
// exactly the committed ones must arrive.
TEST(MpscThreads, ThreeProducersConstantWrapWithAborts) {
    constexpr std::uint32_t producers = 3;
    constexpr std::uint64_t per_producer = 200'000 / sanitizer_divisor;
    auto [tx, rx] = logbuf::queue::mpsc::make(4096);
    std::vector<std::uint64_t> committed(producers, 0);
    std::atomic<std::uint32_t> done{0};

    std::vector<std::thread> threads;
    for (std::uint32_t id = 0; id < producers; ++id) {
        threads.emplace_back([id, &committed, &done, p = tx]() mutable {
            std::mt19937 rng(id);
            for (std::uint64_t seq = 0; seq < per_producer; ++seq) {
                const std::size_t len = stamp_size + length_of(id, seq, 588);
                logbuf::queue::write_claim c;
                while (!(c = p.try_claim(len))) {
                    ASSERT_EQ(c.error(), errc::full);
                    std::this_thread::yield();
                }
                fill_record(c.bytes(), id, seq);
                switch (rng() % 16) {
                    case 0:
                        c.abort();
                        break;
                    case 1:
                        break;  // dropped: aborted by the destructor
                    default:
                        c.commit();
                        ++committed[id];
                }
            }
            // Release pairs with the consumer's acquire: `committed` is final.
            done.fetch_add(1, std::memory_order_release);
        });
    }

    std::vector<std::int64_t> last_seq(producers, -1);
    std::vector<std::uint64_t> received(producers, 0);
    std::uint64_t bad = 0;
    auto check = [&](std::span<const std::byte> r) {
        ASSERT_GE(r.size(), stamp_size);
        std::uint32_t id = 0;
        std::uint64_t seq = 0;
        std::memcpy(&id, r.data(), 4);
        std::memcpy(&seq, r.data() + 4, 8);
        ASSERT_LT(id, producers);
        if (static_cast<std::int64_t>(seq) <= last_seq[id]) ++bad;  // order per producer
        if (r.size() != stamp_size + length_of(id, seq, 588) || !record_matches(r, id, seq)) ++bad;
        last_seq[id] = static_cast<std::int64_t>(seq);
        ++received[id];
    };
    for (;;) {
        // Acquire pairs with the producers' release: once all are done, one
        // more drain sees everything they committed.
        const bool all_done = done.load(std::memory_order_acquire) == producers;
        const auto n = rx.drain(check);
        if (n == 0) {
            if (all_done) break;
            std::this_thread::yield();
        }
    }
    for (auto& t : threads)
        t.join();

    EXPECT_EQ(bad, 0u);
    for (std::uint32_t id = 0; id < producers; ++id) {
        EXPECT_EQ(received[id], committed[id]) << "producer " << id;
        EXPECT_GT(committed[id], per_producer * 3 / 4);
    }
}

// Single-threaded but with many producer copies holding claims in arbitrary
// order: commit order differs from claim order, output follows claim order.
TEST(MpscThreads, InterleavedClaimsFromManyCopiesKeepClaimOrder) {
    auto [tx, rx] = logbuf::queue::mpsc::make(1024);
    std::vector<logbuf::queue::mpsc::producer> copies(4, tx);
    std::mt19937 rng(5);
    std::uint64_t next_write = 0;
    std::uint64_t next_read = 0;
    for (int round = 0; round < 2000; ++round) {
        std::vector<std::pair<logbuf::queue::write_claim, std::uint64_t>> open;
        for (auto& p : copies) {
            auto c = p.try_claim(1 + rng() % 60);
            if (!c) break;
            fill_record(c.bytes(), 9, next_write);
            open.emplace_back(std::move(c), next_write++);
        }
        std::shuffle(open.begin(), open.end(), rng);
        for (auto& [c, seq] : open)
            c.commit();
        rx.drain([&](std::span<const std::byte> r) {
            EXPECT_TRUE(record_matches(r, 9, next_read)) << next_read;
            ++next_read;
        });
    }
    EXPECT_EQ(next_read, next_write);
    EXPECT_GT(next_write, 4000u);
}

}  // namespace
