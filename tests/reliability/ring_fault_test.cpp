// Fault tests for the byte rings: producers that throw between claim and
// commit, consumers destroyed with records inside, and every destruction
// order of producers, consumer and the claims they hold. Bounded by record
// and iteration counts; run under ASan (LOGBUF_SANITIZE=address) for the
// memory side, and the heap counter below checks for leaks in any build.
#include "support.hpp"

#include <logbuf/queue/mpsc.hpp>
#include <logbuf/queue/spsc.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using logbuf::errc;
using reliability::decode;
using reliability::fill;
using reliability::length_of;
using reliability::live_allocations;

#if defined(LOGBUF_UNDER_TSAN) || defined(__SANITIZE_ADDRESS__)
constexpr std::uint64_t slow = 8;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr std::uint64_t slow = 8;
#else
constexpr std::uint64_t slow = 1;
#endif
#else
constexpr std::uint64_t slow = 1;
#endif

struct producer_died : std::runtime_error {
    producer_died() : std::runtime_error("producer threw mid-record") {}
};

// Claims, writes half of the record and throws: the claim is destroyed
// during unwinding, which must abort it.
template <class Producer>
void throw_mid_record(Producer& p, std::uint32_t source, std::uint64_t seq, std::size_t len) {
    logbuf::queue::write_claim c;
    while (!(c = p.try_claim(len)))
        std::this_thread::yield();
    fill(c.bytes().first(len / 2), source, seq);
    throw producer_died();
}

template <class Producer>
void send_record(Producer& p, std::uint32_t source, std::uint64_t seq, std::size_t len) {
    logbuf::queue::write_claim c;
    while (!(c = p.try_claim(len))) {
        ASSERT_EQ(c.error(), errc::full);
        std::this_thread::yield();
    }
    fill(c.bytes(), source, seq);
    c.commit();
}

// Whether producer `source` throws instead of committing record `seq`.
bool throws_at(std::uint32_t source, std::uint64_t seq) {
    return source == 0 && seq % 3 == 1;
}

// Three producers on a small ring (constant wrap and full waits); producer 0
// throws mid-record on every third record. The consumer must get exactly
// the records that were committed, intact and in order per producer, and
// never stall behind a dead claim.
TEST(RingFaults, ProducerThrowingBetweenClaimAndCommitUnderLoad) {
    constexpr std::uint32_t producers = 3;
    constexpr std::uint64_t per_producer = 60'000 / slow;
    constexpr std::size_t max_len = 300;
    auto [tx, rx] = logbuf::queue::mpsc::make(2048);

    std::atomic<std::uint64_t> thrown{0};
    std::vector<std::thread> threads;
    for (std::uint32_t source = 0; source < producers; ++source) {
        threads.emplace_back([source, &thrown, p = tx]() mutable {
            for (std::uint64_t seq = 0; seq < per_producer; ++seq) {
                const std::size_t len = length_of(source, seq, max_len);
                if (throws_at(source, seq)) {
                    try {
                        throw_mid_record(p, source, seq, len);
                    } catch (const producer_died&) {
                        thrown.fetch_add(1, std::memory_order_relaxed);
                    }
                } else {
                    send_record(p, source, seq, len);
                }
            }
        });
    }
    { auto drop = std::move(tx); }  // only the threads' copies remain

    std::array<std::uint64_t, producers> next{};  // next expected sequence per producer
    std::uint64_t expected_total = 0;
    for (std::uint32_t s = 0; s < producers; ++s)
        for (std::uint64_t q = 0; q < per_producer; ++q)
            expected_total += throws_at(s, q) ? 0u : 1u;
    std::uint64_t received = 0;
    std::uint64_t bad = 0;
    std::string first_bad;
    while (received < expected_total) {
        const auto n = rx.drain([&](std::span<const std::byte> r) {
            std::uint32_t source = 0;
            std::uint64_t seq = 0;
            ++received;
            if (!decode(r, source, seq) || source >= producers) {
                if (bad++ == 0) first_bad = "undecodable record of " + std::to_string(r.size());
                return;
            }
            // Skip the sequences that were thrown away, nothing else.
            while (next[source] < per_producer && throws_at(source, next[source]))
                ++next[source];
            if (seq != next[source] || r.size() != length_of(source, seq, max_len)) {
                if (bad++ == 0)
                    first_bad = "source " + std::to_string(source) + " seq " + std::to_string(seq) +
                                " expected " + std::to_string(next[source]);
            }
            next[source] = seq + 1;
        });
        if (n == 0) std::this_thread::yield();
    }
    for (auto& t : threads)
        t.join();
    EXPECT_EQ(bad, 0u) << first_bad;
    EXPECT_EQ(received, expected_total);
    EXPECT_EQ(thrown.load(), per_producer / 3 + (per_producer % 3 > 1 ? 1 : 0));
    EXPECT_EQ(rx.try_claim().error(), errc::empty) << "nothing beyond the committed records";
}

// The one SPSC producer throws mid-record now and then; the consumer, reading
// concurrently, must pass every aborted claim.
TEST(RingFaults, SpscProducerThrowingMidRecordNeverStallsTheConsumer) {
    constexpr std::uint64_t records = 100'000 / slow;
    constexpr std::size_t max_len = 200;
    auto [tx, rx] = logbuf::queue::spsc::make(1024);
    std::thread producer([&p = tx] {
        for (std::uint64_t seq = 0; seq < records; ++seq) {
            const std::size_t len = length_of(0, seq, max_len);
            if (throws_at(0, seq)) {
                try {
                    throw_mid_record(p, 0, seq, len);
                } catch (const producer_died&) {
                }
            } else {
                send_record(p, 0, seq, len);
            }
        }
    });
    std::uint64_t next = 0;
    std::uint64_t bad = 0;
    auto skip_thrown = [&] {
        while (next < records && throws_at(0, next))
            ++next;
    };
    skip_thrown();
    while (next < records) {
        auto r = rx.try_claim();
        if (!r) {
            std::this_thread::yield();
            continue;
        }
        std::uint32_t source = 0;
        std::uint64_t seq = 0;
        if (!decode(r.bytes(), source, seq) || source != 0 || seq != next) ++bad;
        next = seq + 1;
        skip_thrown();
    }
    producer.join();
    EXPECT_EQ(bad, 0u);
    EXPECT_EQ(rx.try_claim().error(), errc::empty);
}

// A consumer destroyed while the ring holds committed records, skip regions
// and an open write claim: nothing leaks, nothing crashes, and the producer
// that outlives it can still end its claim and is told "full", not hung,
// once the ring fills.
TEST(RingFaults, ConsumerDestroyedWithRecordsInside) {
    const long long before = live_allocations();
    {
        auto [tx, rx] = logbuf::queue::mpsc::make(512);
        if (reliability::counting_allocations()) {
            // One allocation holds the positions, the consumer's cursor and the buffer.
            ASSERT_EQ(live_allocations(), before + 1) << "make() allocates once";
        }
        auto other = tx;
        for (std::uint64_t seq = 0; seq < 6; ++seq) {
            auto c = (seq % 2 ? other : tx).try_claim(40);
            ASSERT_TRUE(c);
            fill(c.bytes(), 1, seq);
            if (seq == 3) {
                c.abort();
            } else {
                c.commit();
            }
        }
        auto open = tx.try_claim(64);
        ASSERT_TRUE(open);
        {
            auto r = rx.try_claim();  // one read and released
            ASSERT_TRUE(r);
        }
        { auto gone = std::move(rx); }
        fill(open.bytes(), 1, 99);
        open.commit();
        // The ring is still there for the producers; it only fills up.
        int claims = 0;
        for (;; ++claims) {
            ASSERT_LT(claims, 512 / 16 + 2) << "a ring nobody reads must report full";
            auto c = other.try_claim(8);
            if (!c) {
                EXPECT_EQ(c.error(), errc::full);
                break;
            }
            c.commit();
        }
    }
    EXPECT_EQ(live_allocations(), before) << "the ring leaked or was freed twice";
}

// ---- every destruction order ------------------------------------------------

// The objects of one scenario, destroyed one by one in a given order. A claim
// must not outlive the handle that made it (claims.hpp), so only orders that
// respect that are run; within them, every interleaving.
enum ring_object : int { producer_a, producer_b, consumer_, write_a, write_b, read_claim_ };

bool respects_claim_lifetimes(const std::vector<int>& order) {
    auto at = [&](int kind) { return std::find(order.begin(), order.end(), kind) - order.begin(); };
    return at(write_a) < at(producer_a) && at(write_b) < at(producer_b) &&
           at(read_claim_) < at(consumer_);
}

constexpr const char* ring_object_names[] = {"producer A",    "producer B",    "consumer",
                                             "write claim A", "write claim B", "read claim"};

// MPSC: two producer handles, each with an open write claim (partly
// written), committed records before, between and after them, and a read
// claim held on the first record. Destroyed in all 90 orders that respect
// claim lifetimes. Whenever the consumer outlives everything else it must
// receive exactly the committed records, in claim order; whenever a
// producer outlives the consumer it must still claim until the ring is full.
// The heap must come back to where it was.
TEST(RingFaults, MpscEveryDestructionOrderWithClaimsPending) {
    std::vector<int> order = {producer_a, producer_b, consumer_, write_a, write_b, read_claim_};
    int orders = 0;
    do {
        if (!respects_claim_lifetimes(order)) continue;
        ++orders;
        SCOPED_TRACE(reliability::describe(order, ring_object_names));
        const long long before = live_allocations();
        {
            auto made = logbuf::queue::mpsc::make(256);
            std::optional<logbuf::queue::mpsc::producer> a(std::move(made.first));
            std::optional<logbuf::queue::mpsc::producer> b(*a);
            std::optional<logbuf::queue::consumer> c(std::move(made.second));
            std::optional<logbuf::queue::write_claim> wa, wb;
            std::optional<logbuf::queue::read_claim> r;

            auto commit = [](logbuf::queue::mpsc::producer& p, std::uint64_t seq) {
                auto claim = p.try_claim(length_of(2, seq, 24));
                ASSERT_TRUE(claim);
                fill(claim.bytes(), 2, seq);
                claim.commit();
            };
            // Claim order: 0, [A open], 1, [B open], 2.
            commit(*a, 0);
            wa.emplace(a->try_claim(30));
            ASSERT_TRUE(*wa);
            fill(wa->bytes().first(10), 2, 100);
            commit(*b, 1);
            wb.emplace(b->try_claim(20));
            ASSERT_TRUE(*wb);
            commit(*a, 2);
            r.emplace(c->try_claim());
            ASSERT_TRUE(*r);

            std::size_t alive = 6;
            for (int kind : order) {
                switch (kind) {
                    case producer_a:
                        a.reset();
                        break;
                    case producer_b:
                        b.reset();
                        break;
                    case consumer_:
                        c.reset();
                        break;
                    case write_a:
                        wa.reset();  // aborts
                        break;
                    case write_b:
                        wb.reset();
                        break;
                    case read_claim_:
                        r.reset();  // releases record 0
                        break;
                }
                --alive;
                if (alive == 1 && c) {
                    // The consumer is the last: records 1 and 2, nothing else.
                    std::vector<std::uint64_t> got;
                    c->drain([&](std::span<const std::byte> bytes) {
                        std::uint32_t source = 0;
                        std::uint64_t seq = 0;
                        EXPECT_TRUE(decode(bytes, source, seq));
                        got.push_back(seq);
                    });
                    EXPECT_EQ(got, (std::vector<std::uint64_t>{1, 2}));
                }
                if (alive == 1 && (a || b)) {
                    auto& p = a ? *a : *b;
                    int claims = 0;
                    for (;; ++claims) {
                        ASSERT_LT(claims, 256 / 16 + 2);
                        auto claim = p.try_claim(8);
                        if (!claim) {
                            EXPECT_EQ(claim.error(), errc::full);
                            break;
                        }
                        claim.commit();
                    }
                }
            }
        }
        EXPECT_EQ(live_allocations(), before);
    } while (std::next_permutation(order.begin(), order.end()));
    EXPECT_EQ(orders, 90);
}

// SPSC: producer, consumer, one open write claim and one read claim, in the
// 6 orders that respect claim lifetimes; then the same with the write claim
// committed halfway through instead of dropped.
TEST(RingFaults, SpscEveryDestructionOrderWithClaimsPending) {
    for (bool commit_open_claim : {false, true}) {
        std::vector<int> order = {producer_a, consumer_, write_a, read_claim_};
        int orders = 0;
        do {
            auto at = [&](int k) {
                return std::find(order.begin(), order.end(), k) - order.begin();
            };
            if (at(write_a) > at(producer_a) || at(read_claim_) > at(consumer_)) continue;
            ++orders;
            SCOPED_TRACE(reliability::describe(order, ring_object_names) +
                         (commit_open_claim ? " (claim committed)" : ""));
            const long long before = live_allocations();
            {
                auto made = logbuf::queue::spsc::make(128);
                std::optional<logbuf::queue::spsc::producer> p(std::move(made.first));
                std::optional<logbuf::queue::consumer> c(std::move(made.second));
                for (std::uint64_t seq = 0; seq < 2; ++seq) {
                    auto claim = p->try_claim(20);
                    ASSERT_TRUE(claim);
                    fill(claim.bytes(), 3, seq);
                    claim.commit();
                }
                std::optional<logbuf::queue::write_claim> w(p->try_claim(40));
                ASSERT_TRUE(*w);
                fill(w->bytes(), 3, 2);
                std::optional<logbuf::queue::read_claim> r(c->try_claim());
                ASSERT_TRUE(*r);

                std::size_t alive = 4;
                for (int kind : order) {
                    if (kind == producer_a) p.reset();
                    if (kind == consumer_) c.reset();
                    if (kind == write_a) {
                        if (commit_open_claim) w->commit();
                        w.reset();
                    }
                    if (kind == read_claim_) r.reset();
                    if (--alive == 1 && c) {
                        std::vector<std::uint64_t> got;
                        c->drain([&](std::span<const std::byte> bytes) {
                            std::uint32_t source = 0;
                            std::uint64_t seq = 0;
                            EXPECT_TRUE(decode(bytes, source, seq));
                            got.push_back(seq);
                        });
                        const std::vector<std::uint64_t> want =
                            commit_open_claim ? std::vector<std::uint64_t>{1, 2}
                                              : std::vector<std::uint64_t>{1};
                        EXPECT_EQ(got, want);
                    }
                }
            }
            EXPECT_EQ(live_allocations(), before);
        } while (std::next_permutation(order.begin(), order.end()));
        EXPECT_EQ(orders, 6);
    }
}

}  // namespace
