// Fault tests for the byte channels: senders and receivers destroyed, in
// every order, while the other side is blocked (a receiver in recv(), a
// sender in send() on a full ring) or holds a claim. Whatever the order:
// every record committed before the last sender left is received, the
// receiver then says disconnected (not before), blocked senders return
// disconnected once the receiver is gone, and the heap comes back to where it
// was. Bounded by iteration counts; "blocked" is reached by waiting for the
// other thread to announce it is about to wait, then yielding a varying
// number of times so that it is caught spinning, yielding or parked.
#include "support.hpp"

#include <logbuf/channel/mpsc.hpp>
#include <logbuf/channel/spsc.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

using logbuf::errc;
using reliability::decode;
using reliability::fill;
using reliability::live_allocations;

using reliability::await;
using reliability::pause_for;
using reliability::pauses;

template <class Sender>
void send_record(Sender& tx, std::uint32_t source, std::uint64_t seq) {
    auto c = tx.send(24);
    ASSERT_TRUE(c) << logbuf::to_string(c.error());
    fill(c.bytes(), source, seq);
    c.commit();
    tx.notify();
}

// What a receiver thread saw: records per source, and how it ended.
struct receive_log {
    std::vector<std::vector<std::uint64_t>> by_source = std::vector<std::vector<std::uint64_t>>(4);
    std::uint64_t undecodable = 0;
    errc end = errc{};
    std::size_t senders_gone_at_end = 0;  // how many had left when it saw the end
};

// Receives until recv() fails; records everything.
template <class Receiver>
void receive_all(Receiver& rx, std::atomic<bool>& waiting, const std::atomic<std::size_t>& gone,
                 receive_log& log) {
    for (;;) {
        waiting.store(true, std::memory_order_release);
        auto r = rx.recv();
        if (!r) {
            log.end = r.error();
            log.senders_gone_at_end = gone.load(std::memory_order_acquire);
            return;
        }
        std::uint32_t source = 0;
        std::uint64_t seq = 0;
        if (!decode(r.bytes(), source, seq) || source >= log.by_source.size()) {
            ++log.undecodable;
            continue;
        }
        log.by_source[source].push_back(seq);
    }
}

// Three MPSC senders leave, in each of the 6 orders, each after sending 0 or
// 3 records, while the receiver waits in recv(); 3 pauses each: 90 runs.
TEST(ChannelFaults, MpscReceiverBlockedWhileSendersLeaveInEveryOrder) {
    for (int pause : pauses) {
        for (unsigned pattern : {0u, 3u, 5u, 6u, 7u}) {
            std::array<int, 3> order = {0, 1, 2};
            do {
                SCOPED_TRACE("pause " + std::to_string(pause) + " pattern " +
                             std::to_string(pattern) + " order " + std::to_string(order[0]) +
                             std::to_string(order[1]) + std::to_string(order[2]));
                const long long before = live_allocations();
                {
                    auto [tx, rx] = logbuf::channel::mpsc::make(256);
                    std::array<std::optional<logbuf::channel::mpsc::sender>, 3> senders;
                    senders[0].emplace(std::move(tx));
                    senders[1].emplace(*senders[0]);
                    senders[2].emplace(*senders[0]);
                    std::atomic<bool> waiting{false};
                    std::atomic<std::size_t> gone{0};
                    receive_log log;
                    std::thread receiver([&, &rx = rx] { receive_all(rx, waiting, gone, log); });
                    std::array<std::uint64_t, 3> sent{};
                    for (int who : order) {
                        await(waiting);
                        pause_for(pause);
                        if (pattern & (1u << who)) {
                            for (int i = 0; i < 3; ++i)
                                send_record(*senders[static_cast<std::size_t>(who)],
                                            static_cast<std::uint32_t>(who),
                                            sent[static_cast<std::size_t>(who)]++);
                        }
                        pause_for(pause);
                        // Count first: the receiver may see the end as soon
                        // as the last one is gone.
                        gone.fetch_add(1, std::memory_order_release);
                        senders[static_cast<std::size_t>(who)].reset();
                    }
                    receiver.join();
                    EXPECT_EQ(log.end, errc::disconnected);
                    EXPECT_EQ(log.senders_gone_at_end, 3u) << "disconnected before the last left";
                    EXPECT_EQ(log.undecodable, 0u);
                    for (std::size_t s = 0; s < 3; ++s) {
                        std::vector<std::uint64_t> want(sent[s]);
                        for (std::uint64_t i = 0; i < sent[s]; ++i)
                            want[i] = i;
                        EXPECT_EQ(log.by_source[s], want) << "source " << s;
                    }
                    EXPECT_TRUE(rx.is_disconnected());
                }
                EXPECT_EQ(live_allocations(), before);
            } while (std::next_permutation(order.begin(), order.end()));
        }
    }
}

// The one SPSC sender leaves while the receiver waits, with and without
// records just before.
TEST(ChannelFaults, SpscReceiverBlockedWhileTheSenderLeaves) {
    for (int pause : pauses) {
        for (int records : {0, 1, 5}) {
            SCOPED_TRACE("pause " + std::to_string(pause) + " records " + std::to_string(records));
            const long long before = live_allocations();
            {
                auto [tx, rx] = logbuf::channel::spsc::make(128);
                std::optional<logbuf::channel::spsc::sender> sender(std::move(tx));
                std::atomic<bool> waiting{false};
                std::atomic<std::size_t> gone{0};
                receive_log log;
                std::thread receiver([&, &rx = rx] { receive_all(rx, waiting, gone, log); });
                await(waiting);
                pause_for(pause);
                for (int i = 0; i < records; ++i)
                    send_record(*sender, 0, static_cast<std::uint64_t>(i));
                pause_for(pause);
                gone.fetch_add(1, std::memory_order_release);
                sender.reset();
                receiver.join();
                EXPECT_EQ(log.end, errc::disconnected);
                EXPECT_EQ(log.senders_gone_at_end, 1u);
                EXPECT_EQ(log.by_source[0].size(), static_cast<std::size_t>(records));
            }
            EXPECT_EQ(live_allocations(), before);
        }
    }
}

// Fills the ring so the next send must wait.
template <class Sender>
void fill_ring(Sender& tx) {
    for (std::uint64_t seq = 0;; ++seq) {
        auto c = tx.try_send(24);
        if (!c) {
            ASSERT_EQ(c.error(), errc::full);
            return;
        }
        fill(c.bytes(), 3, seq);
        c.commit();
    }
}

// Two MPSC senders wait in send() on a full ring; the receiver is destroyed.
// Both must return disconnected (not spin for ever); then the senders go in
// either order, one of them possibly before the receiver.
TEST(ChannelFaults, MpscSendersBlockedOnAFullRingWhenTheReceiverLeaves) {
    for (int pause : pauses) {
        for (int variant = 0; variant < 2; ++variant) {
            SCOPED_TRACE("pause " + std::to_string(pause) + " variant " + std::to_string(variant));
            const long long before = live_allocations();
            {
                auto [tx, rx] = logbuf::channel::mpsc::make(128);
                std::optional<logbuf::channel::mpsc::receiver> receiver(std::move(rx));
                fill_ring(tx);
                std::array<std::atomic<bool>, 2> waiting{};
                std::array<errc, 2> result{errc::full, errc::full};
                std::vector<std::thread> threads;
                for (std::size_t i = 0; i < 2; ++i) {
                    threads.emplace_back([&, i, s = tx]() mutable {
                        waiting[i].store(true, std::memory_order_release);
                        result[i] = s.send(40).error();
                    });
                }
                if (variant == 1) {
                    auto early = std::move(tx);  // the original leaves first
                }
                await(waiting[0]);
                await(waiting[1]);
                pause_for(pause);
                receiver.reset();
                for (auto& t : threads)
                    t.join();
                EXPECT_EQ(result[0], errc::disconnected);
                EXPECT_EQ(result[1], errc::disconnected);
                if (variant == 0) {
                    EXPECT_TRUE(tx.is_disconnected());
                    EXPECT_EQ(tx.try_send(8).error(), errc::disconnected);
                    EXPECT_EQ(tx.send(8).error(), errc::disconnected);
                }
            }
            EXPECT_EQ(live_allocations(), before);
        }
    }
}

TEST(ChannelFaults, SpscSenderBlockedOnAFullRingWhenTheReceiverLeaves) {
    for (int pause : pauses) {
        SCOPED_TRACE("pause " + std::to_string(pause));
        const long long before = live_allocations();
        {
            auto [tx, rx] = logbuf::channel::spsc::make(64);
            std::optional<logbuf::channel::spsc::receiver> receiver(std::move(rx));
            fill_ring(tx);
            std::atomic<bool> waiting{false};
            errc result = errc::full;
            std::thread sender([&, &tx = tx] {
                waiting.store(true, std::memory_order_release);
                result = tx.send(40).error();
            });
            await(waiting);
            pause_for(pause);
            receiver.reset();
            sender.join();
            EXPECT_EQ(result, errc::disconnected);
        }
        EXPECT_EQ(live_allocations(), before);
    }
}

// ---- every destruction order, with claims pending ---------------------------

enum channel_object : int { sender_a, sender_b, receiver_, write_claim_a, rx_claim_ };
constexpr const char* channel_object_names[] = {"sender A", "sender B", "receiver", "write claim A",
                                                "read claim"};

// Two MPSC senders (A with an open, partly written claim), committed records
// around the open claim, a receiver holding a read claim on the first record:
// destroyed in the 30 orders in which no claim outlives its maker. Checked
// after each step: the receiver reports disconnected exactly when no sender
// is left, a sender reports disconnected exactly when the receiver is gone;
// when the receiver is the last it receives exactly the committed records,
// then disconnected.
TEST(ChannelFaults, MpscEveryDestructionOrderWithClaimsPending) {
    std::vector<int> order = {sender_a, sender_b, receiver_, write_claim_a, rx_claim_};
    int orders = 0;
    do {
        auto at = [&](int k) { return std::find(order.begin(), order.end(), k) - order.begin(); };
        if (at(write_claim_a) > at(sender_a) || at(rx_claim_) > at(receiver_)) continue;
        ++orders;
        SCOPED_TRACE(reliability::describe(order, channel_object_names));
        const long long before = live_allocations();
        {
            auto made = logbuf::channel::mpsc::make(256);
            std::optional<logbuf::channel::mpsc::sender> a(std::move(made.first));
            std::optional<logbuf::channel::mpsc::sender> b(*a);
            std::optional<logbuf::channel::mpsc::receiver> rx(std::move(made.second));
            send_record(*a, 0, 0);
            std::optional<logbuf::queue::write_claim> wa(a->try_send(30));
            ASSERT_TRUE(*wa);
            fill(wa->bytes().first(12), 0, 99);
            send_record(*b, 1, 0);
            send_record(*a, 0, 1);
            std::optional<logbuf::queue::read_claim> r(rx->try_recv());
            ASSERT_TRUE(*r);

            std::size_t alive = order.size();
            for (int kind : order) {
                if (kind == sender_a) a.reset();
                if (kind == sender_b) b.reset();
                if (kind == receiver_) rx.reset();
                if (kind == write_claim_a) wa.reset();  // aborted
                if (kind == rx_claim_) r.reset();
                const bool senders_left = a || b;
                if (rx) {
                    EXPECT_EQ(rx->is_disconnected(), !senders_left);
                }
                if (a) {
                    EXPECT_EQ(a->is_disconnected(), !rx);
                }
                if (b) {
                    EXPECT_EQ(b->is_disconnected(), !rx);
                }
                if (!rx && (a || b)) {
                    auto& s = a ? *a : *b;
                    EXPECT_EQ(s.try_send(8).error(), errc::disconnected);
                    EXPECT_EQ(s.send(8).error(), errc::disconnected);
                }
                if (--alive == 1 && rx) {
                    // The receiver is the last: records (1,0) and (0,1), in
                    // claim order, then disconnected.
                    std::vector<std::pair<std::uint32_t, std::uint64_t>> got;
                    for (;;) {
                        auto rec = rx->try_recv();
                        if (!rec) {
                            EXPECT_EQ(rec.error(), errc::disconnected);
                            break;
                        }
                        std::uint32_t source = 0;
                        std::uint64_t seq = 0;
                        EXPECT_TRUE(decode(rec.bytes(), source, seq));
                        got.emplace_back(source, seq);
                    }
                    const std::vector<std::pair<std::uint32_t, std::uint64_t>> want = {{1, 0},
                                                                                       {0, 1}};
                    EXPECT_EQ(got, want);
                }
            }
        }
        EXPECT_EQ(live_allocations(), before);
    } while (std::next_permutation(order.begin(), order.end()));
    EXPECT_EQ(orders, 30);
}

// A sender holding a claim when the receiver goes: it can still write and
// commit (the ring is still there), and is told disconnected from then on.
TEST(ChannelFaults, ReceiverLeavesWhileASenderHoldsAClaim) {
    const long long before = live_allocations();
    {
        auto [tx, rx] = logbuf::channel::spsc::make(128);
        auto claim = tx.try_send(40);
        ASSERT_TRUE(claim);
        { auto gone = std::move(rx); }
        fill(claim.bytes(), 5, 0);
        claim.commit();
        tx.notify();
        EXPECT_TRUE(tx.is_disconnected());
        EXPECT_EQ(tx.try_send(8).error(), errc::disconnected);
        EXPECT_EQ(tx.send(8).error(), errc::disconnected);
    }
    EXPECT_EQ(live_allocations(), before);
}

// The last sender leaves while the receiver holds a record: the receiver
// releases it, receives the rest, then disconnected.
TEST(ChannelFaults, LastSenderLeavesWhileTheReceiverHoldsARecord) {
    auto [tx, rx] = logbuf::channel::mpsc::make(256);
    {
        auto sender = std::move(tx);
        for (std::uint64_t seq = 0; seq < 3; ++seq)
            send_record(sender, 2, seq);
    }
    auto held = rx.recv();
    ASSERT_TRUE(held);
    EXPECT_TRUE(rx.is_disconnected());
    held.release();
    for (std::uint64_t seq = 1; seq < 3; ++seq) {
        auto r = rx.recv();
        ASSERT_TRUE(r);
        std::uint32_t source = 0;
        std::uint64_t got = 0;
        EXPECT_TRUE(decode(r.bytes(), source, got));
        EXPECT_EQ(got, seq);
    }
    EXPECT_EQ(rx.recv().error(), errc::disconnected);
    EXPECT_EQ(rx.recv_for(std::chrono::milliseconds(1)).error(), errc::disconnected);
}

}  // namespace
