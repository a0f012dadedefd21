// The MPSC ring's turn: a producer waiting in claim_waiting() for a large
// record is not starved by producers of small ones. Single-threaded tests
// drive the protocol step by step from inside keep_waiting(); the threaded
// test bounds, by counts, how many competing claims get ahead of a waiting
// large claim. Nothing here is decided by time.
#include "ring_test_support.hpp"

#include <logbuf/queue/details/in_process_ring.hpp>
#include <logbuf/queue/details/ring.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <thread>
#include <vector>

namespace ring_turn_test {

using logbuf::errc;
using logbuf::queue::details::turn_bit;
using namespace logbuf_test;

constexpr std::size_t ring_bytes = 1024;
constexpr std::size_t large = ring_bytes - 8;   // max_payload(): the whole ring
constexpr std::size_t medium = ring_bytes / 8;  // just large enough to take the turn

// Fills the ring with 56-byte records (64 with header) from `p`, sequences
// from `first`; returns how many.
std::uint64_t fill(logbuf::queue::mpsc::producer& p, std::uint32_t source, std::uint64_t first) {
    std::uint64_t n = 0;
    while (auto c = p.try_claim(56)) {
        fill_record(c.bytes(), source, first + n);
        c.commit();
        ++n;
    }
    return n;
}

struct RingTurnSteps : ::testing::Test {
    std::pair<logbuf::queue::mpsc::producer, logbuf::queue::consumer> q =
        logbuf::queue::mpsc::make(ring_bytes);
    logbuf::queue::mpsc::producer& small = q.first;
    logbuf::queue::mpsc::producer big = q.first;  // a copy: a second producer
    logbuf::queue::consumer& rx = q.second;

    // The raw tail word (tests only: handles do not expose it), found from
    // a claim's address by find_tail().
    std::atomic<std::uint64_t>* tail = nullptr;

    // Takes one record out and checks it is (source, sequence).
    void expect_next(std::uint32_t source, std::uint64_t sequence, std::size_t len) {
        auto r = rx.try_claim();
        ASSERT_TRUE(r) << "expected record " << source << "/" << sequence;
        EXPECT_EQ(r.size(), len);
        EXPECT_TRUE(record_matches(r.bytes(), source, sequence)) << source << "/" << sequence;
    }
};

// Where the tail word lives: in_process_ring puts ring_positions first, and
// the buffer right after the positions and the reader.
std::atomic<std::uint64_t>& tail_of_first_record(std::byte* payload_of_first) {
    namespace d = logbuf::queue::details;
    auto* block = reinterpret_cast<d::in_process_ring*>(payload_of_first - d::header_size -
                                                        sizeof(d::in_process_ring));
    return block->positions.tail;
}

// Passes one whole-ring record through a fresh ring, at offset 0, to find
// the tail word; the tail is at offset 0 again afterwards.
std::atomic<std::uint64_t>* find_tail(logbuf::queue::mpsc::producer& p,
                                      logbuf::queue::consumer& rx) {
    auto c = p.try_claim(large);
    EXPECT_TRUE(c);
    std::atomic<std::uint64_t>* t = &tail_of_first_record(c.data());
    c.commit();
    EXPECT_EQ(rx.drain([](auto) {}), 1u);
    return t;
}

TEST_F(RingTurnSteps, WaiterTakesTheTurnAndNobodyClaimsAheadOfIt) {
    tail = find_tail(small, rx);
    const std::uint64_t start = tail->load(std::memory_order_relaxed);
    const std::uint64_t filled = fill(small, 1, 0);
    ASSERT_GT(filled, 0u);

    unsigned calls = 0;
    std::uint64_t refused = 0;
    auto c = big.claim_waiting(large, [&] {
        ++calls;
        // Our turn is set in the tail word, and the tail stands still.
        EXPECT_NE(tail->load(std::memory_order_relaxed) & turn_bit, 0u);
        // Release one record: there is room for a small claim now, but the
        // other producer is refused while we wait.
        std::uint64_t got = 0;
        (void)rx.drain([&](auto) { ++got; }, 1);
        auto s = small.try_claim(8);
        EXPECT_FALSE(s);
        EXPECT_EQ(s.error(), errc::full);
        ++refused;
        return true;
    });
    ASSERT_TRUE(c);
    EXPECT_EQ(calls, filled);  // one record released per call; the last release made room
    EXPECT_EQ(refused, filled);
    // The claim that took the record cleared the turn.
    EXPECT_EQ(tail->load(std::memory_order_relaxed), start + filled * 64 + ring_bytes);
    fill_record(c.bytes(), 2, 0);
    c.commit();

    // The other producer runs again, after the large record.
    auto s = small.try_claim(56);
    EXPECT_FALSE(s);  // the ring is full of the large record
    expect_next(2, 0, large);
    EXPECT_EQ(fill(small, 1, filled), filled);
    for (std::uint64_t i = 0; i < filled; ++i)
        expect_next(1, filled + i, 56);
    EXPECT_FALSE(rx.try_claim());
}

// The consumer holds a read claim and wants another producer's record
// before it releases anything: the holder gives the turn back after
// turn_patience waits with head standing still, lets the other producer in,
// and takes the turn again once head moves.
TEST_F(RingTurnSteps, TurnIsGivenBackWhileTheConsumerStandsStill) {
    constexpr unsigned patience = logbuf::queue::details::turn_patience;
    tail = find_tail(small, rx);
    const std::uint64_t filled = fill(small, 1, 0);
    ASSERT_EQ(filled, ring_bytes / 64);
    auto held = rx.try_claim();  // (1, 0), kept
    ASSERT_TRUE(held);
    unsigned calls = 0;
    bool let_in = false;
    std::vector<std::size_t> drained;
    auto c = big.claim_waiting(large, [&] {
        ++calls;
        const bool turn = (tail->load(std::memory_order_relaxed) & turn_bit) != 0;
        if (calls <= patience) {
            EXPECT_TRUE(turn) << "wait " << calls;
        } else if (!let_in) {
            EXPECT_FALSE(turn) << "wait " << calls;  // given back
            held.release();                          // head moves
            auto s = small.try_claim(56);            // the other producer gets in
            EXPECT_TRUE(s);
            if (s) {
                fill_record(s.bytes(), 1, filled);
                s.commit();
            }
            let_in = true;
        } else {
            EXPECT_TRUE(turn) << "wait " << calls;  // taken again: head moved
            (void)rx.drain([&](std::span<const std::byte> r) { drained.push_back(r.size()); });
        }
        return true;
    });
    ASSERT_TRUE(c);
    EXPECT_GT(calls, patience + 1);
    EXPECT_EQ(tail->load(std::memory_order_relaxed) & turn_bit, 0u);
    // Everything the consumer saw, in order: the rest of the lap and the
    // record let in, then the large one.
    EXPECT_EQ(drained, std::vector<std::size_t>(filled, 56));
    fill_record(c.bytes(), 2, 0);
    c.commit();
    expect_next(2, 0, large);
    EXPECT_FALSE(rx.try_claim());
}

// The holder claims wrap padding on its own and keeps the turn while the
// consumer passes it; it plants that padding once.
TEST_F(RingTurnSteps, PaddingAloneKeepsTheTurn) {
    tail = find_tail(small, rx);
    // Move the tail to the middle of the ring.
    for (int i = 0; i < 8; ++i) {
        auto c = small.try_claim(56);
        ASSERT_TRUE(c);
        c.commit();
    }
    EXPECT_EQ(rx.drain([](auto) {}), 8u);
    const std::uint64_t middle = tail->load(std::memory_order_relaxed);
    ASSERT_EQ(middle % ring_bytes, 512u);
    const std::uint64_t filled = fill(small, 1, 0);

    unsigned calls = 0;
    std::uint64_t padding_seen_at = 0;
    auto c = big.claim_waiting(large, [&] {
        ++calls;
        const std::uint64_t word = tail->load(std::memory_order_relaxed);
        EXPECT_NE(word & turn_bit, 0u);
        // The tail moves only once, by the padding to the end of the buffer.
        const std::uint64_t position = word & ~turn_bit;
        if (position != middle + filled * 64) {
            EXPECT_EQ(position % ring_bytes, 0u);
            if (padding_seen_at == 0) padding_seen_at = calls;
        }
        (void)rx.drain([](auto) {}, 1);
        EXPECT_FALSE(small.try_claim(8));
        return true;
    });
    ASSERT_TRUE(c);
    EXPECT_GT(padding_seen_at, 0u);
    EXPECT_EQ(tail->load(std::memory_order_relaxed) & turn_bit, 0u);
    fill_record(c.bytes(), 2, 7);
    c.commit();
    EXPECT_EQ(rx.drain([](auto) {}), 1u);  // only the large record is left
    // One call per small record released, and one more to pass the padding.
    EXPECT_EQ(calls, filled + 1);
}

TEST_F(RingTurnSteps, GivingUpDropsTheTurn) {
    tail = find_tail(small, rx);
    const std::uint64_t filled = fill(small, 1, 0);
    const std::uint64_t before = tail->load(std::memory_order_relaxed);
    unsigned calls = 0;
    auto c = big.claim_waiting(large, [&] {
        ++calls;
        EXPECT_EQ(tail->load(std::memory_order_relaxed), before | turn_bit);
        return calls < 3;
    });
    EXPECT_FALSE(c);
    EXPECT_EQ(c.error(), errc::full);
    EXPECT_EQ(calls, 3u);
    EXPECT_EQ(tail->load(std::memory_order_relaxed), before);  // bit gone, tail unmoved
    EXPECT_EQ(rx.drain([](auto) {}), filled);
    EXPECT_TRUE(small.try_claim(8));
}

TEST_F(RingTurnSteps, AThrowingKeepWaitingDropsTheTurn) {
    tail = find_tail(small, rx);
    (void)fill(small, 1, 0);
    const std::uint64_t before = tail->load(std::memory_order_relaxed);
    EXPECT_THROW((void)big.claim_waiting(large, []() -> bool { throw std::runtime_error("x"); }),
                 std::runtime_error);
    EXPECT_EQ(tail->load(std::memory_order_relaxed), before);
}

// A second waiter while the turn is held: refused like any producer, it
// leaves the holder's turn alone and can give up.
TEST_F(RingTurnSteps, ASecondWaiterWaitsForTheTurn) {
    tail = find_tail(small, rx);
    const std::uint64_t filled = fill(small, 1, 0);
    logbuf::queue::mpsc::producer second = small;
    unsigned second_calls = 0;
    auto c = big.claim_waiting(large, [&] {
        if (second_calls == 0) {
            auto s = second.claim_waiting(medium, [&] {
                ++second_calls;
                EXPECT_NE(tail->load(std::memory_order_relaxed) & turn_bit, 0u);
                (void)rx.drain([](auto) {}, 1);  // room for it soon: still refused
                return second_calls < 4;
            });
            EXPECT_FALSE(s);
            EXPECT_EQ(s.error(), errc::full);
            // Still ours.
            EXPECT_NE(tail->load(std::memory_order_relaxed) & turn_bit, 0u);
        }
        (void)rx.drain([](auto) {});
        return true;
    });
    ASSERT_TRUE(c);
    EXPECT_EQ(second_calls, 4u);
    EXPECT_LE(4u, filled);
    c.commit();
    // Now the second waiter gets the turn and its space.
    unsigned calls = 0;
    auto s = second.claim_waiting(medium, [&] {
        ++calls;
        EXPECT_NE(tail->load(std::memory_order_relaxed) & turn_bit, 0u);
        auto r = rx.try_claim();
        EXPECT_TRUE(r);
        EXPECT_EQ(r.size(), large);
        return true;
    });
    EXPECT_TRUE(s);
    EXPECT_EQ(calls, 1u);
    EXPECT_EQ(tail->load(std::memory_order_relaxed) & turn_bit, 0u);
}

// Records of at most an eighth of the ring wait without taking the turn.
TEST_F(RingTurnSteps, SmallWaitersDoNotTakeTheTurn) {
    tail = find_tail(small, rx);
    (void)fill(small, 1, 0);
    unsigned calls = 0;
    auto c = big.claim_waiting(ring_bytes / 8 - 8, [&] {
        ++calls;
        EXPECT_EQ(tail->load(std::memory_order_relaxed) & turn_bit, 0u);
        EXPECT_TRUE(small.try_claim(8).error() == errc::full);
        return rx.drain([](auto) {}, 2) == 2;
    });
    EXPECT_TRUE(c);
    EXPECT_EQ(calls, 1u);
}

TEST(RingTurn, BadClaimsFailAtOnceWithoutWaiting) {
    auto [tx, rx] = logbuf::queue::mpsc::make(ring_bytes);
    unsigned calls = 0;
    auto keep = [&] { return ++calls < 100; };
    EXPECT_EQ(tx.claim_waiting(0, keep).error(), errc::zero_length);
    EXPECT_EQ(tx.claim_waiting(large + 1, keep).error(), errc::too_large);
    logbuf::queue::mpsc::producer moved = std::move(tx);
    EXPECT_EQ(tx.claim_waiting(8, keep).error(), errc::disconnected);  // NOLINT: moved from
    EXPECT_EQ(calls, 0u);
    EXPECT_TRUE(moved.claim_waiting(large, keep));
    EXPECT_EQ(calls, 0u);
}

TEST(RingTurn, SpscClaimWaitingWaitsAndGivesUp) {
    auto ring = logbuf::queue::spsc::make(ring_bytes);
    auto& tx = ring.first;
    auto& rx = ring.second;  // a reference, not a binding: the lambda below uses it
    auto first = tx.try_claim(large);
    ASSERT_TRUE(first);
    first.commit();
    unsigned calls = 0;
    auto c = tx.claim_waiting(8, [&] { return ++calls < 3; });
    EXPECT_EQ(c.error(), errc::full);
    EXPECT_EQ(calls, 3u);
    calls = 0;
    c = tx.claim_waiting(8, [&] {
        ++calls;
        return rx.drain([](auto) {}) == 1;
    });
    EXPECT_TRUE(c);
    EXPECT_EQ(calls, 1u);
    EXPECT_EQ(tx.claim_waiting(0, [] { return true; }).error(), errc::zero_length);
}

// Two producers write small records as fast as they can while a third sends
// whole-ring records through claim_waiting(). When its keep_waiting() first
// runs it holds the turn; it writes how many claims each competitor had
// counted by then into its record. In the stream, which is claim order, a
// competitor may have at most one more record before the large one than that
// count (a claim that won its compare-exchange just before the turn was
// taken, counted just after). Without the turn, competitors claim thousands
// of records while a large one waits. (The count is read after the turn's
// fetch_or; on x86-64 every locked RMW is a full fence, which is what makes
// "counted by then" exact here - the library's own orders need no more.)
TEST(MpscTurnThreads, LargeClaimsAreNotOvertakenOnceTheyWait) {
    constexpr std::uint32_t competitors = 2;
    constexpr std::uint32_t big_source = competitors;
    const std::uint64_t large_records = 2000 / sanitizer_divisor;
    auto [tx, rx] = logbuf::queue::mpsc::make(ring_bytes);
    struct alignas(128) counter {
        std::atomic<std::uint64_t> claims{0};
    };
    std::vector<counter> counted(competitors);
    std::atomic<bool> big_done{false};
    std::atomic<std::uint32_t> finished{0};
    std::vector<std::uint64_t> sent(competitors, 0);

    std::vector<std::thread> threads;
    for (std::uint32_t id = 0; id < competitors; ++id) {
        threads.emplace_back([&, id, p = tx]() mutable {
            std::uint64_t seq = 0;
            // Relaxed: only a stop signal; counts are published by `finished`.
            while (!big_done.load(std::memory_order_relaxed)) {
                const std::size_t len = stamp_size + (seq * 13 + id * 7) % 40;
                auto c = p.try_claim(len);
                if (!c) {
                    std::this_thread::yield();
                    continue;
                }
                // Relaxed: the large producer reads it as a count only.
                counted[id].claims.store(seq + 1, std::memory_order_relaxed);
                fill_record(c.bytes(), id, seq);
                c.commit();
                ++seq;
            }
            sent[id] = seq;
            // Release pairs with the consumer's acquire: `sent` is final.
            finished.fetch_add(1, std::memory_order_release);
        });
    }
    threads.emplace_back([&, p = tx]() mutable {
        // Start once every competitor is writing.
        for (std::uint32_t id = 0; id < competitors; ++id)
            while (counted[id].claims.load(std::memory_order_relaxed) == 0)
                std::this_thread::yield();
        for (std::uint64_t k = 0; k < large_records; ++k) {
            std::uint64_t snapshot[competitors] = {};
            bool waited = false;
            auto c = p.claim_waiting(large, [&] {
                if (!waited) {
                    waited = true;
                    for (std::uint32_t id = 0; id < competitors; ++id)
                        snapshot[id] = counted[id].claims.load(std::memory_order_relaxed);
                }
                std::this_thread::yield();
                return true;
            });
            ASSERT_TRUE(c);
            fill_record(c.bytes(), big_source, k);
            const std::uint64_t flag = waited ? 1 : 0;
            std::memcpy(c.data() + stamp_size, &flag, 8);
            std::memcpy(c.data() + stamp_size + 8, snapshot, sizeof snapshot);
            c.commit();
        }
        big_done.store(true, std::memory_order_relaxed);
        finished.fetch_add(1, std::memory_order_release);
    });

    std::vector<std::int64_t> last(competitors, -1);
    std::vector<std::uint64_t> received(competitors, 0);
    std::uint64_t large_received = 0, waited_count = 0, bad = 0, overtaken = 0;
    auto check = [&](std::span<const std::byte> r) {
        std::uint32_t id = 0;
        std::uint64_t seq = 0;
        std::memcpy(&id, r.data(), 4);
        std::memcpy(&seq, r.data() + 4, 8);
        if (id == big_source) {
            if (r.size() != large || seq != large_received) ++bad;
            std::uint64_t flag = 0, snapshot[competitors] = {};
            std::memcpy(&flag, r.data() + stamp_size, 8);
            std::memcpy(snapshot, r.data() + stamp_size + 8, sizeof snapshot);
            for (std::size_t i = stamp_size + 8 + sizeof snapshot; i < r.size(); ++i)
                if (r[i] != pattern_byte(big_source, seq, i)) {
                    ++bad;
                    break;
                }
            if (flag != 0) {
                ++waited_count;
                // Competitor records before this one: sequences 0..last[id].
                for (std::uint32_t i = 0; i < competitors; ++i)
                    if (last[i] + 1 > static_cast<std::int64_t>(snapshot[i]) + 1) ++overtaken;
            }
            ++large_received;
            return;
        }
        if (id >= competitors || static_cast<std::int64_t>(seq) != last[id] + 1 ||
            r.size() != stamp_size + (seq * 13 + id * 7) % 40 || !record_matches(r, id, seq))
            ++bad;
        last[id] = static_cast<std::int64_t>(seq);
        ++received[id];
    };
    for (;;) {
        // Acquire pairs with the producers' release: once all are done, one
        // more drain sees everything they committed.
        const bool all_done = finished.load(std::memory_order_acquire) == competitors + 1;
        if (rx.drain(check) == 0) {
            if (all_done) break;
            std::this_thread::yield();
        }
    }
    for (auto& t : threads)
        t.join();

    EXPECT_EQ(bad, 0u);
    EXPECT_EQ(overtaken, 0u);
    EXPECT_EQ(large_received, large_records);
    EXPECT_GT(waited_count, 0u) << "no large claim had to wait: the test checked nothing";
    for (std::uint32_t id = 0; id < competitors; ++id) {
        EXPECT_EQ(received[id], sent[id]);
        EXPECT_GT(sent[id], 0u);
    }
}

}  // namespace ring_turn_test
