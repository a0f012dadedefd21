// The object channel under threads: many producers keep their order and lose
// nothing, close and receiver destruction race senders without losing or
// double-destroying a value, a slot being written is waited for rather than
// called empty, and a long run recycles its blocks. Bounded by counts.
#include "object_test_support.hpp"

#include <logbuf/channel/object.hpp>

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <thread>
#include <vector>

namespace {

using logbuf::errc;
using logbuf::channel::object::make;
using logbuf::channel::object::make_unbounded;
using logbuf::channel::object::receiver;
using logbuf::channel::object::sender;
using object_test::counted;
using object_test::gated;
using object_test::iterations;
using object_test::tagged;
using namespace std::chrono_literals;

enum class receive_with { recv, recv_many, try_recv };

// `producers` threads each send `per_producer` tagged values; the receiver
// checks every producer's sequence and the totals, then sees disconnected.
void run_producers(std::pair<sender<tagged>, receiver<tagged>> channel, std::uint32_t producers,
                   std::uint64_t per_producer, receive_with how) {
    auto [tx, rx] = std::move(channel);
    std::vector<std::thread> threads;
    for (std::uint32_t p = 0; p < producers; ++p) {
        threads.emplace_back([t = tx, p, per_producer]() mutable {
            for (std::uint64_t s = 0; s < per_producer; ++s) {
                if (!t.send(tagged{p, s})) std::abort();
            }
        });
    }
    { auto gone = std::move(tx); }  // only the threads' copies remain

    std::vector<std::uint64_t> next(producers, 0);
    std::uint64_t received = 0;
    std::uint64_t out_of_order = 0;
    const auto check = [&](const tagged& v) {
        if (v.sequence != next[v.producer]) ++out_of_order;
        next[v.producer] = v.sequence + 1;
        ++received;
    };
    std::vector<tagged> batch;
    for (;;) {
        if (how == receive_with::recv_many) {
            batch.clear();
            if (rx.recv_many(batch, 100) == 0) break;
            for (const tagged& v : batch)
                check(v);
            continue;
        }
        auto r = how == receive_with::recv ? rx.recv() : rx.try_recv();
        if (r) {
            check(*r);
        } else if (r.error() == errc::disconnected) {
            break;
        } else {
            ASSERT_EQ(r.error(), errc::empty);
            std::this_thread::yield();
        }
    }
    for (auto& t : threads)
        t.join();
    EXPECT_EQ(out_of_order, 0u);
    EXPECT_EQ(received, producers * per_producer);
    for (std::uint32_t p = 0; p < producers; ++p)
        EXPECT_EQ(next[p], per_producer) << p;
}

TEST(ObjectStress, UnboundedFourProducersWithRecv) {
    run_producers(make_unbounded<tagged>(), 4, iterations(250'000), receive_with::recv);
}
TEST(ObjectStress, BoundedFourProducersWithRecv) {
    run_producers(make<tagged>(64), 4, iterations(250'000), receive_with::recv);
}
TEST(ObjectStress, BoundedFourProducersWithRecvMany) {
    run_producers(make<tagged>(100), 4, iterations(250'000), receive_with::recv_many);
}
TEST(ObjectStress, UnboundedThreeProducersWithTryRecv) {
    run_producers(make_unbounded<tagged>(), 3, iterations(250'000), receive_with::try_recv);
}
TEST(ObjectStress, BoundOfOneTwoProducers) {
    run_producers(make<tagged>(1), 2, iterations(50'000), receive_with::recv);
}

TEST(ObjectStress, BoundedChannelNeverHoldsMoreThanItsBound) {
    constexpr std::size_t bound = 10;
    auto [tx, rx] = make<std::uint64_t>(bound);
    std::atomic<std::uint64_t> sent{0};
    constexpr std::uint64_t per_producer = iterations(100'000);
    std::vector<std::thread> threads;
    for (int p = 0; p < 3; ++p) {
        threads.emplace_back([t = tx, &sent]() mutable {
            for (std::uint64_t s = 0; s < per_producer; ++s) {
                if (!t.send(s)) std::abort();
                sent.fetch_add(1);
            }
        });
    }
    { auto gone = std::move(tx); }
    std::uint64_t received = 0;
    std::uint64_t over_bound = 0;
    while (auto r = rx.recv()) {
        ++received;
        // Sends counted so far minus receives so far is at most what is in
        // flight; a send is counted after it returns, so this only errs low.
        if (sent.load() > received + bound) ++over_bound;
    }
    for (auto& t : threads)
        t.join();
    EXPECT_EQ(received, 3 * per_producer);
    EXPECT_EQ(over_bound, 0u);
    // Spares for `bound` values: the list never grew past that.
    EXPECT_LE(rx.block_usage().allocated, bound / 32 + 2 + 3);
}

TEST(ObjectStress, CloseRacingSendersLosesNothing) {
    for (int round = 0; round < static_cast<int>(iterations(100)); ++round) {
        counted::reset();
        std::atomic<long> accepted{0};
        long received = 0;
        {
            auto [tx, rx] = round % 2 == 0 ? make_unbounded<counted>() : make<counted>(16);
            std::vector<std::thread> threads;
            for (std::uint64_t p = 0; p < 3; ++p) {
                threads.emplace_back([t = tx, p, &accepted]() mutable {
                    for (std::uint64_t s = 0; s < 300; ++s) {
                        counted v(p * 1000 + s);
                        const auto r = t.send(std::move(v));
                        if (r) {
                            accepted.fetch_add(1);
                        } else if (r.error() != errc::disconnected || !v.has_payload) {
                            std::abort();
                        }
                    }
                });
            }
            for (int i = 0; i < round % 7; ++i)
                received += rx.try_recv() ? 1 : 0;
            rx.close();
            { auto gone = std::move(tx); }
            while (auto r = rx.recv())
                ++received;
            for (auto& t : threads)
                t.join();
        }
        // Everything accepted was received (before or after the close), and
        // every value - received or rejected - died once.
        ASSERT_EQ(received, accepted.load());
        ASSERT_EQ(counted::live.load(), 0);
        ASSERT_EQ(counted::destroyed_with_payload.load(), 900);
    }
}

TEST(ObjectStress, EveryAcceptedValueIsReceivedAfterClose) {
    for (int round = 0; round < static_cast<int>(iterations(100)); ++round) {
        std::atomic<std::uint64_t> accepted{0};
        std::uint64_t received = 0;
        auto [tx, rx] = make_unbounded<std::uint64_t>();
        std::vector<std::thread> threads;
        for (int p = 0; p < 3; ++p) {
            threads.emplace_back([t = tx, &accepted]() mutable {
                for (std::uint64_t s = 0; s < 500; ++s) {
                    if (t.try_send(s)) accepted.fetch_add(1);
                }
            });
        }
        { auto gone = std::move(tx); }
        std::this_thread::yield();
        rx.close();
        while (auto r = rx.recv())
            ++received;
        for (auto& t : threads)
            t.join();
        ASSERT_EQ(received, accepted.load());
    }
}

// The receiver goes at a random moment while three senders send: every
// value dies once the receiver and the senders' calls are done, while the
// sender handles still exist (senders that were mid-write when the receiver
// went destroy the values behind their slot).
TEST(ObjectStress, ReceiverDestroyedWhileSendersSend) {
    for (int round = 0; round < static_cast<int>(iterations(100)); ++round) {
        counted::reset();
        std::atomic<long> accepted{0};
        {
            auto [tx, rx] = make_unbounded<counted>();
            std::vector<logbuf::channel::object::sender<counted>> senders(3, tx);
            std::vector<std::thread> threads;
            for (std::uint64_t p = 0; p < 3; ++p) {
                threads.emplace_back([&t = senders[p], p, &accepted]() mutable {
                    for (std::uint64_t s = 0; s < 300; ++s) {
                        counted v(p * 1000 + s);
                        if (t.try_send(std::move(v))) {
                            accepted.fetch_add(1);
                        } else if (!v.has_payload) {
                            std::abort();
                        }
                    }
                });
            }
            { auto gone = std::move(tx); }
            for (int i = 0; i < round % 50; ++i)
                (void)rx.try_recv();
            { auto gone = std::move(rx); }
            for (auto& t : threads)
                t.join();
            ASSERT_EQ(counted::live.load(), 0) << "values kept alive by the sender handles";
            ASSERT_EQ(counted::destroyed_with_payload.load(), 900);
        }
        ASSERT_EQ(counted::live.load(), 0);
        ASSERT_EQ(counted::destroyed_with_payload.load(), 900);
    }
}

// Two senders held mid-write (slots 0 and 2), values behind each, then the
// receiver goes: nothing can die yet. The first writer, let go, destroys
// slots 0 and 1 and hands the rest to the second, which destroys 2 and 3.
TEST(ObjectStress, ReceiverGoneHandsTheValuesFromWriterToWriter) {
    using object_test::hooked;
    counted::reset();
    {
        auto made = make_unbounded<hooked>();
        auto& tx = made.first;
        std::optional<receiver<hooked>> rx(std::move(made.second));
        std::atomic<int> entered{0};
        std::array<std::atomic<bool>, 2> open{};
        const auto writer = [&](int which, std::uint64_t payload) {
            return std::thread([&, which, payload, t = tx]() mutable {
                EXPECT_TRUE(t.try_send(hooked(payload, [&, which] {
                    entered.fetch_add(1);
                    while (!open[static_cast<std::size_t>(which)].load())
                        std::this_thread::yield();
                })));
                // `t` stays alive until the thread ends: the values must not.
                if (which == 0) {
                    EXPECT_EQ(counted::destroyed_with_payload.load(), 2);
                }
            });
        };
        std::thread first = writer(0, 0);
        while (entered.load() != 1)
            std::this_thread::yield();
        ASSERT_TRUE(tx.try_send(hooked(1)));
        std::thread second = writer(1, 2);
        while (entered.load() != 2)
            std::this_thread::yield();
        ASSERT_TRUE(tx.try_send(hooked(3)));
        rx.reset();
        EXPECT_EQ(counted::destroyed_with_payload.load(), 0);
        open[0].store(true);
        first.join();
        EXPECT_EQ(counted::destroyed_with_payload.load(), 2);
        open[1].store(true);
        second.join();
        EXPECT_EQ(counted::destroyed_with_payload.load(), 4);
        EXPECT_EQ(counted::live.load(), 0);
    }
    EXPECT_EQ(counted::live.load(), 0);
}

TEST(ObjectStress, SlotBeingWrittenIsWaitedForNotCalledEmpty) {
    for (bool use_try_recv : {true, false}) {
        auto [tx, rx] = make_unbounded<gated>();
        std::atomic<bool> entered{false};
        std::atomic<bool> open{false};
        std::thread slow([t = tx, &entered, &open]() mutable {
            EXPECT_TRUE(t.send(gated(1, &entered, &open)));
        });
        while (!entered.load())
            std::this_thread::yield();
        ASSERT_TRUE(tx.send(gated(2, nullptr, nullptr)));  // complete, but behind the slow one
        std::thread opener([&open] {
            std::this_thread::sleep_for(30ms);
            open.store(true);
        });
        auto first = use_try_recv ? rx.try_recv() : rx.recv();
        ASSERT_TRUE(first) << logbuf::to_string(first.error());
        EXPECT_EQ(first->payload, 1);
        EXPECT_EQ(rx.try_recv()->payload, 2);
        slow.join();
        opener.join();
    }
}

TEST(ObjectStress, LongRunRecyclesBlocks) {
    // Millions of values through an unbounded channel whose receiver keeps
    // up: the sender stays at most `lead` values ahead (the receiver
    // publishes its progress), so the backlog spans a handful of blocks.
    // Live blocks stay bounded and allocations stop after warm-up; without
    // recycling they would reach total / 32.
    constexpr std::uint64_t total = iterations(20'000'000);
    constexpr std::uint64_t lead = 256;
    auto [tx, rx] = make_unbounded<std::uint64_t>();
    std::atomic<std::uint64_t> consumed{0};
    std::thread producer([t = std::move(tx), &consumed]() mutable {
        for (std::uint64_t i = 0; i < total; ++i) {
            if (!t.send(i)) std::abort();
            while (i >= consumed.load(std::memory_order_relaxed) + lead)
                std::this_thread::yield();
        }
    });
    std::uint64_t expected = 0;
    std::size_t max_live = 0;
    std::vector<std::uint64_t> batch;
    while (true) {
        batch.clear();
        if (rx.recv_many(batch, 64) == 0) break;
        for (std::uint64_t v : batch) {
            ASSERT_EQ(v, expected);
            ++expected;
        }
        consumed.store(expected, std::memory_order_relaxed);
        max_live = std::max(max_live, rx.block_usage().live);
    }
    producer.join();
    EXPECT_EQ(expected, total);
    // Spares are kept only once needed: the backlog's blocks plus a few.
    const std::size_t bound = lead / 32 + 12;
    EXPECT_LE(max_live, bound);
    EXPECT_LE(rx.block_usage().allocated, bound);
    RecordProperty("max_live_blocks", static_cast<int>(max_live));
    RecordProperty("blocks_allocated", static_cast<int>(rx.block_usage().allocated));
}

}  // namespace
