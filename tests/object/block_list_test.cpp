// The typed block list on its own: order, empty vs busy, close, exactly-once
// destruction, throwing moves, recycling, and many producers.
#include "object_test_support.hpp"

#include <logbuf/queue/block_list.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

namespace {

using logbuf::queue::block_list;
using logbuf::queue::pop_status;
using object_test::counted;
using object_test::gated;
using object_test::iterations;
using object_test::tagged;

constexpr std::uint64_t block = block_list<int>::block_capacity;

TEST(BlockList, NewListIsEmpty) {
    block_list<int> list;
    EXPECT_EQ(list.try_pop().status, pop_status::empty);
    EXPECT_FALSE(list.is_closed());
    EXPECT_EQ(list.usage().live, 1u);
    EXPECT_EQ(list.usage().allocated, 1u);
}

TEST(BlockList, ValuesComeOutInOrderAcrossBlocks) {
    block_list<std::uint64_t> list;
    const std::uint64_t n = 5 * block + 7;
    for (std::uint64_t i = 0; i < n; ++i)
        ASSERT_TRUE(list.push(i));
    for (std::uint64_t i = 0; i < n; ++i) {
        auto r = list.try_pop();
        ASSERT_TRUE(r);
        ASSERT_EQ(*r.value, i);
    }
    EXPECT_EQ(list.try_pop().status, pop_status::empty);
}

TEST(BlockList, InterleavedPushPopRecyclesBlocks) {
    block_list<std::uint64_t> list;
    for (std::uint64_t i = 0; i < 100 * block; ++i) {
        ASSERT_TRUE(list.push(i));
        auto r = list.try_pop();
        ASSERT_TRUE(r);
        ASSERT_EQ(*r.value, i);
    }
    EXPECT_LE(list.usage().live, 3u);
    EXPECT_LE(list.usage().allocated, 3u);
}

// Six bursts of ten blocks' worth through `list`, drained in between;
// after_burst() runs after each.
template <class AfterBurst>
void run_bursts(block_list<std::uint64_t>& list, AfterBurst&& after_burst) {
    std::uint64_t next = 0;
    for (int burst = 0; burst < 6; ++burst) {
        for (std::uint64_t i = 0; i < 10 * block; ++i)
            ASSERT_TRUE(list.push(next + i));
        for (std::uint64_t i = 0; i < 10 * block; ++i)
            ASSERT_EQ(*list.try_pop().value, next + i);
        next += 10 * block;
        ASSERT_EQ(list.try_pop().status, pop_status::empty);
        after_burst();
    }
}

// The spares kept from the first burst carry the next ones: the allocations
// stop.
TEST(BlockList, BurstsReuseTheBlocksOfEarlierBursts) {
    block_list<std::uint64_t> list;
    run_bursts(list, [] {});
    EXPECT_LE(list.usage().allocated, 12u);
}

// With a spare limit of 2 the same bursts free what they do not keep.
TEST(BlockList, SpareLimitFreesTheRest) {
    block_list<std::uint64_t> list(2);
    // The block being read, the one before it (not yet reclaimable), two spares.
    run_bursts(list, [&list] { EXPECT_LE(list.usage().live, 4u); });
    EXPECT_GT(list.usage().allocated, 30u);
}

TEST(BlockList, MoveOnlyValues) {
    block_list<std::unique_ptr<int>> list;
    for (int i = 0; i < 40; ++i)
        ASSERT_TRUE(list.push(std::make_unique<int>(i)));
    for (int i = 0; i < 40; ++i) {
        auto r = list.try_pop();
        ASSERT_TRUE(r);
        ASSERT_EQ(**r.value, i);
    }
}

TEST(BlockList, TryPopWithHandsOutTheValueInPlace) {
    block_list<std::unique_ptr<int>> list;
    ASSERT_TRUE(list.push(std::make_unique<int>(7)));
    std::unique_ptr<int> got;
    EXPECT_EQ(list.try_pop_with([&](std::unique_ptr<int>&& p) { got = std::move(p); }),
              pop_status::value);
    ASSERT_TRUE(got);
    EXPECT_EQ(*got, 7);
    EXPECT_EQ(list.try_pop_with([](std::unique_ptr<int>&&) {}), pop_status::empty);
}

TEST(BlockList, CloseEndsTheListAfterEarlierValues) {
    block_list<int> list;
    ASSERT_TRUE(list.push(1));
    ASSERT_TRUE(list.push(2));
    EXPECT_TRUE(list.close());
    EXPECT_FALSE(list.close());
    EXPECT_TRUE(list.is_closed());
    EXPECT_FALSE(list.push(3));
    EXPECT_EQ(*list.try_pop().value, 1);
    EXPECT_EQ(*list.try_pop().value, 2);
    EXPECT_EQ(list.try_pop().status, pop_status::closed);
    EXPECT_EQ(list.try_pop().status, pop_status::closed);
}

TEST(BlockList, FailedPushLeavesTheValueUntouched) {
    block_list<std::unique_ptr<int>> list;
    (void)list.close();
    auto p = std::make_unique<int>(5);
    EXPECT_FALSE(list.push(std::move(p)));
    ASSERT_TRUE(p);
    EXPECT_EQ(*p, 5);
}

TEST(BlockList, CloseOnABlockBoundaryGrowsTheChain) {
    for (std::uint64_t n : {std::uint64_t{0}, block - 1, block, 2 * block, 2 * block + 1}) {
        block_list<std::uint64_t> list;
        for (std::uint64_t i = 0; i < n; ++i)
            ASSERT_TRUE(list.push(i));
        ASSERT_TRUE(list.close());
        for (std::uint64_t i = 0; i < n; ++i)
            ASSERT_EQ(*list.try_pop().value, i) << n;
        EXPECT_EQ(list.try_pop().status, pop_status::closed) << n;
    }
}

TEST(BlockList, PopsAfterClosedDoNotMove) {
    block_list<int> list;
    (void)list.close();
    for (int i = 0; i < 3 * static_cast<int>(block); ++i)
        (void)list.push(i);
    EXPECT_EQ(list.try_pop().status, pop_status::closed);
}

TEST(BlockList, BusyWhileAClaimedSlotIsBeingWritten) {
    block_list<gated> list;
    std::atomic<bool> entered{false};
    std::atomic<bool> open{false};
    std::thread writer([&] { ASSERT_TRUE(list.push(gated(1, &entered, &open))); });
    while (!entered.load())
        std::this_thread::yield();

    EXPECT_EQ(list.try_pop().status, pop_status::busy);
    // A finished value behind the unfinished one is held back: order first.
    ASSERT_TRUE(list.push(gated(2, nullptr, nullptr)));
    EXPECT_EQ(list.try_pop().status, pop_status::busy);

    open.store(true);
    writer.join();
    auto first = list.try_pop();
    ASSERT_TRUE(first);
    EXPECT_EQ(first.value->payload, 1);
    EXPECT_EQ(list.try_pop().value->payload, 2);
    EXPECT_EQ(list.try_pop().status, pop_status::empty);
}

TEST(BlockList, BusyWhileTheNextBlockIsNotLinkedYet) {
    // Fill the first block completely, then hold a writer inside the second.
    block_list<gated> list;
    for (int i = 0; i < static_cast<int>(block); ++i)
        ASSERT_TRUE(list.push(gated(i, nullptr, nullptr)));
    for (int i = 0; i < static_cast<int>(block); ++i)
        ASSERT_TRUE(list.try_pop());
    std::atomic<bool> entered{false};
    std::atomic<bool> open{false};
    std::thread writer([&] { ASSERT_TRUE(list.push(gated(99, &entered, &open))); });
    while (!entered.load())
        std::this_thread::yield();
    EXPECT_EQ(list.try_pop().status, pop_status::busy);
    open.store(true);
    writer.join();
    EXPECT_EQ(list.try_pop().value->payload, 99);
}

// discard() with a slot still being written: the values up to it die at
// once, the slot's writer destroys it and the values behind it as soon as it
// has published, and a push after discard() fails.
TEST(BlockList, DiscardHandsTheRestToTheWriterMidWrite) {
    using object_test::hooked;
    counted::reset();
    {
        block_list<hooked> list;
        for (std::uint64_t i = 0; i < 5; ++i)
            ASSERT_TRUE(list.push(hooked(i)));
        ASSERT_TRUE(list.try_pop());  // 0: popped and destroyed
        hooked mid(5, [&list] {
            for (std::uint64_t i = 6; i < 70; ++i)  // two more blocks
                ASSERT_TRUE(list.push(hooked(i)));
            list.discard();
            EXPECT_EQ(counted::destroyed_with_payload.load(), 5);  // 0 to 4
            EXPECT_TRUE(list.is_closed());
        });
        ASSERT_TRUE(list.push(std::move(mid)));
        EXPECT_EQ(counted::destroyed_with_payload.load(), 70);
        EXPECT_FALSE(list.push(hooked(99)));
        EXPECT_EQ(counted::live.load(), 1);  // `mid`, moved from
    }
    EXPECT_EQ(counted::live.load(), 0);
    EXPECT_EQ(counted::destroyed_with_payload.load(), 71);
}

// discard() with nothing being written destroys everything at once; a list
// discarded empty, or after close(), is fine too.
TEST(BlockList, DiscardWithoutWritersDestroysEverything) {
    for (const bool closed_first : {false, true}) {
        counted::reset();
        block_list<counted> list;
        for (std::uint64_t i = 0; i < 40; ++i)
            ASSERT_TRUE(list.push(counted(i)));
        if (closed_first) {
            ASSERT_TRUE(list.close());
        }
        list.discard();
        EXPECT_EQ(counted::live.load(), 0);
        EXPECT_EQ(counted::destroyed_with_payload.load(), 40);
        EXPECT_FALSE(list.push(counted(1)));
    }
    block_list<counted> empty;
    empty.discard();
    EXPECT_FALSE(empty.push(counted(1)));
}

class BlockListCounting : public ::testing::Test {
  protected:
    void SetUp() override { counted::reset(); }
};

// Pushes `pushed` values, pops `popped` of them, optionally closes, drops the
// list: every value is destroyed exactly once, popped or not.
void drop_with_values_inside(std::uint64_t pushed, std::uint64_t popped, bool close) {
    counted::reset();
    {
        block_list<counted> list;
        for (std::uint64_t i = 0; i < pushed; ++i)
            ASSERT_TRUE(list.push(counted(i)));
        for (std::uint64_t i = 0; i < popped; ++i) {
            auto r = list.try_pop();
            ASSERT_TRUE(r);
            ASSERT_EQ(r.value->payload, i);
        }
        if (close) {
            ASSERT_TRUE(list.close());
        }
        EXPECT_EQ(counted::live.load(), static_cast<long>(pushed - popped));
    }
    EXPECT_EQ(counted::live.load(), 0);
    EXPECT_EQ(counted::destroyed_with_payload.load(), static_cast<long>(pushed));
}

TEST_F(BlockListCounting, EveryValueIsDestroyedExactlyOnce) {
    for (bool close : {false, true}) {
        drop_with_values_inside(0, 0, close);              // empty
        drop_with_values_inside(10, 0, close);             // mid-block
        drop_with_values_inside(10, 4, close);             // mid-block, partly popped
        drop_with_values_inside(block, block, close);      // exactly one block, all popped
        drop_with_values_inside(4 * block + 3, 0, close);  // several blocks
        drop_with_values_inside(4 * block + 3, 2 * block + 1, close);  // several, partly popped
    }
}

TEST_F(BlockListCounting, ValuesPushedAfterCloseAreNotKept) {
    {
        block_list<counted> list;
        ASSERT_TRUE(list.push(counted(1)));
        (void)list.close();
        counted rejected(2);
        EXPECT_FALSE(list.push(std::move(rejected)));
        EXPECT_TRUE(rejected.has_payload);
    }
    EXPECT_EQ(counted::live.load(), 0);
    EXPECT_EQ(counted::destroyed_with_payload.load(), 2);
}

TEST(BlockList, ThrowingMoveAbandonsOnlyItsSlot) {
    using object_test::throws_on_move;
    throws_on_move::live = 0;
    {
        block_list<throws_on_move> list;
        for (int i = 0; i < 70; ++i) {
            throws_on_move v(i, i % 7 == 3);
            if (v.explode) {
                EXPECT_THROW((void)list.push(std::move(v)), std::runtime_error);
            } else {
                ASSERT_TRUE(list.push(std::move(v)));
            }
        }
        // Pop half; the rest is destroyed by the list.
        for (int i = 0; i < 70; ++i) {
            if (i % 7 == 3) continue;
            if (i >= 35) break;
            auto r = list.try_pop();
            ASSERT_TRUE(r);
            EXPECT_EQ(r.value->payload, i);
        }
    }
    EXPECT_EQ(throws_on_move::live.load(), 0);
}

TEST(BlockList, ProducersKeepTheirOrderAndNothingIsLost) {
    constexpr std::uint32_t producers = 4;
    constexpr std::uint64_t per_producer = iterations(400'000);
    block_list<tagged> list;
    std::vector<std::thread> threads;
    for (std::uint32_t p = 0; p < producers; ++p) {
        threads.emplace_back([&list, p] {
            for (std::uint64_t s = 0; s < per_producer; ++s) {
                if (!list.push(tagged{p, s})) std::abort();
            }
        });
    }
    std::vector<std::uint64_t> next(producers, 0);
    std::uint64_t received = 0;
    std::uint64_t out_of_order = 0;
    std::uint64_t busy = 0;
    while (received < producers * per_producer) {
        auto r = list.try_pop();
        if (!r) {
            busy += r.status == pop_status::busy;
            ASSERT_NE(r.status, pop_status::closed);
            continue;
        }
        if (r.value->sequence != next[r.value->producer]) ++out_of_order;
        next[r.value->producer] = r.value->sequence + 1;
        ++received;
    }
    for (auto& t : threads)
        t.join();
    EXPECT_EQ(out_of_order, 0u);
    for (std::uint32_t p = 0; p < producers; ++p)
        EXPECT_EQ(next[p], per_producer);
    EXPECT_EQ(list.try_pop().status, pop_status::empty);
    ASSERT_TRUE(list.close());
    EXPECT_EQ(list.try_pop().status, pop_status::closed);
    // A consumer that kept up (more or less) recycled most blocks.
    RecordProperty("busy_pops", static_cast<int>(busy));
}

TEST(BlockList, CloseRacingPushesLosesNothing) {
    // Each push either succeeds (and is popped before `closed`) or fails
    // with its value untouched. Counting proves no value is dropped.
    for (int round = 0; round < static_cast<int>(iterations(200)); ++round) {
        counted::reset();
        std::atomic<long> accepted{0};
        std::atomic<long> rejected{0};
        long popped = 0;
        {
            block_list<counted> list;
            std::vector<std::thread> threads;
            for (std::uint32_t p = 0; p < 3; ++p) {
                threads.emplace_back([&, p] {
                    for (std::uint64_t s = 0; s < 200; ++s) {
                        counted v(p * 1000 + s);
                        if (list.push(std::move(v))) {
                            accepted.fetch_add(1);
                        } else {
                            if (!v.has_payload) std::abort();
                            rejected.fetch_add(1);
                        }
                    }
                });
            }
            std::this_thread::yield();
            (void)list.close();
            for (;;) {
                auto r = list.try_pop();
                if (r.status == pop_status::closed) break;
                if (r) ++popped;
            }
            for (auto& t : threads)
                t.join();
            EXPECT_EQ(list.try_pop().status, pop_status::closed);
        }
        ASSERT_EQ(popped, accepted.load());
        ASSERT_EQ(accepted.load() + rejected.load(), 600);
        ASSERT_EQ(counted::live.load(), 0);
        ASSERT_EQ(counted::destroyed_with_payload.load(), 600);
    }
}

TEST(BlockList, LongRunWithAConsumerThatKeepsUpRecyclesBlocks) {
    constexpr std::uint64_t total = iterations(4'000'000);
    // The producer stays at most `lead` values ahead of the consumer, so the
    // backlog never spans more than lead / 32 + 1 blocks, fewer than the
    // list keeps as spares; without recycling the list would allocate
    // total / 32 blocks.
    constexpr std::uint64_t lead = 256;
    block_list<std::uint64_t> list;
    std::atomic<std::uint64_t> consumed{0};
    std::thread producer([&] {
        for (std::uint64_t i = 0; i < total; ++i) {
            if (!list.push(i)) std::abort();
            while (i >= consumed.load(std::memory_order_relaxed) + lead)
                std::this_thread::yield();
        }
    });
    std::uint64_t expected = 0;
    std::size_t max_live = 0;
    while (expected < total) {
        auto r = list.try_pop();
        if (!r) {
            std::this_thread::yield();
            continue;
        }
        ASSERT_EQ(*r.value, expected);
        ++expected;
        if (expected % 256 == 0) {
            consumed.store(expected, std::memory_order_relaxed);
            max_live = std::max(max_live, list.usage().live);
        }
    }
    producer.join();
    // Spares are kept only once needed: the backlog's blocks plus a few.
    const std::size_t bound = lead / block + 12;
    EXPECT_LE(max_live, bound);
    EXPECT_LE(list.usage().allocated, bound) << "blocks are being freed, not recycled";
    RecordProperty("max_live_blocks", static_cast<int>(max_live));
    RecordProperty("blocks_allocated", static_cast<int>(list.usage().allocated));
}

}  // namespace
