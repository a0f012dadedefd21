// The shared channel across processes: a notify() from another process
// wakes a parked receiver (no lost wake-ups), a receiver whose process died
// is seen as disconnected, and a sender process that dies never hangs the
// receiver. Also the README's snippet, compiled and run.
#include "shared_test_support.hpp"

#include <logbuf/channel/shared.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <thread>

namespace {

namespace cs = logbuf::channel::shared;
using logbuf::errc;
using shared_test::decode;
using shared_test::fill;
using shared_test::fork_child;
using shared_test::kill_and_reap;
using shared_test::pipe_channel;
using shared_test::reap;
using shared_test::ring_path;
using namespace std::chrono_literals;

// The README's example, as it is printed there (the README-BEGIN/END blocks).
void readme_recover(const std::filesystem::path& file) {
    // README-BEGIN
    // After every process died (a file on disk survives them all):
    std::size_t n = logbuf::queue::shared::recover(file, [](std::span<const std::byte> record) {
        std::fwrite(record.data(), 1, record.size(), stdout);  // committed, never consumed
    });
    // README-END
    EXPECT_EQ(n, 0u);  // the logger had received everything
}

void readme_example(const std::filesystem::path& file, bool logger) {
    if (logger) {
        // README-BEGIN
        // The logger process creates the ring file and receives:
        auto rx = logbuf::channel::shared::create(file, 1 << 20);
        while (auto record = rx.recv()) {
            std::fwrite(record.data(), 1, record.size(), stdout);
        }  // errc::disconnected: every sender process is gone
        // README-END
    } else {
        // README-BEGIN
        // Each hot process opens it and sends:
        auto tx = logbuf::channel::shared::open(file);
        std::string_view line = "order 42 filled\n";
        if (auto claim = tx.send(line.size())) {
            std::memcpy(claim.data(), line.data(), line.size());
            claim.commit();
            tx.notify();  // wakes the logger in its process
        }
        // README-END
    }
}

TEST(SharedChannel, TheReadmeExampleRuns) {
    ring_path path("readme");
    pipe_channel created;
    const pid_t logger = fork_child([&] {
        ::close(1);  // the example writes to stdout: send it nowhere
        if (::open("/dev/null", O_WRONLY) != 1) return false;
        std::thread announce([&] {
            while (!std::filesystem::exists(path.path()))
                std::this_thread::yield();
            created.send();
        });
        readme_example(path, true);
        announce.join();
        return true;
    });
    ASSERT_EQ(created.receive(), 'x');
    readme_example(path, false);
    EXPECT_EQ(reap(logger), 0);
    readme_recover(path);
}

TEST(SharedChannel, NotifyWakesAReceiverParkedInAnotherProcess) {
    ring_path path("wake");
    auto rx = cs::create(path, 1 << 12);
    rx.set_park_timeout(20s);  // a lost wake-up would show as a 20 s wait
    pipe_channel go;
    constexpr int trials = 30;
    const pid_t child = fork_child([&] {
        auto tx = cs::open(path);
        // White box: the receiver's futex word, to send exactly while it is
        // parked (1) in every third trial.
        auto ring = logbuf::queue::shared::open(path);
        const auto& word = logbuf::channel::details::shared_area_of(ring.upper_area()).wake_word;
        for (int i = 0; i < trials; ++i) {
            if (go.receive() != 'x') return false;
            if (i % 3 == 1) std::this_thread::sleep_for(1ms);
            if (i % 3 == 2) {
                const auto give_up = std::chrono::steady_clock::now() + 10s;
                while (word.load() != 1 && std::chrono::steady_clock::now() < give_up)
                    std::this_thread::sleep_for(100us);
            }
            auto c = tx.send(24);
            if (!c) return false;
            fill(c.bytes(), 9, static_cast<std::uint64_t>(i));
            // steady_clock is CLOCK_MONOTONIC: one clock for both processes.
            const auto sent = std::chrono::steady_clock::now().time_since_epoch().count();
            std::memcpy(c.data() + 16, &sent, sizeof sent);
            c.commit();
            tx.notify();
        }
        return true;
    });
    for (int i = 0; i < trials; ++i) {
        go.send();
        auto r = rx.recv_for(120s);
        const auto received = std::chrono::steady_clock::now().time_since_epoch().count();
        ASSERT_TRUE(r) << "trial " << i << ": " << logbuf::to_string(r.error());
        ASSERT_EQ(r.size(), 24u);
        std::uint64_t q = 0;
        std::memcpy(&q, r.data() + 4, sizeof q);
        EXPECT_EQ(q, static_cast<std::uint64_t>(i));
        std::chrono::steady_clock::rep sent = 0;
        std::memcpy(&sent, r.data() + 16, sizeof sent);
        // From the sender's commit to our recv(): far below the park timeout
        // unless a wake-up was lost (generous: a loaded machine).
        EXPECT_LT(std::chrono::steady_clock::duration(received - sent), 10s)
            << "trial " << i << " slept into its park timeout";
    }
    EXPECT_GT(rx.parking().parks, 0u) << "the receiver never parked: the test did not test";
    EXPECT_EQ(reap(child), 0);
}

TEST(SharedChannel, ASenderProcessKilledDoesNotHangTheReceiver) {
    ring_path path("sender_killed");
    auto rx = cs::create(path, 1 << 12);
    rx.set_park_timeout(50ms);
    rx.set_unblock_timeout(100ms);
    pipe_channel ready;
    const pid_t child = fork_child([&] {
        auto tx = cs::open(path);
        for (std::uint64_t q = 0; q < 5; ++q) {
            auto c = tx.send(40);
            if (!c) return false;
            fill(c.bytes(), 1, q);
            c.commit();
        }
        auto held = tx.send(100);  // killed holding it
        ready.send();
        for (;;)
            ::pause();
    });
    ASSERT_EQ(ready.receive(), 'x');
    kill_and_reap(child);
    std::uint64_t next = 0;
    for (;;) {
        auto r = rx.recv_for(30s);
        if (!r) {
            EXPECT_EQ(r.error(), errc::disconnected);
            break;
        }
        std::uint32_t s = 0;
        std::uint64_t q = 0;
        ASSERT_TRUE(decode(r.bytes(), s, q));
        EXPECT_EQ(q, next++);
    }
    EXPECT_EQ(next, 5u);
    EXPECT_TRUE(rx.is_disconnected());
}

TEST(SharedChannel, ASenderThatLeavesDisconnectsAtOnce) {
    ring_path path("sender_left");
    auto rx = cs::create(path, 1 << 12);
    rx.set_park_timeout(20s);
    EXPECT_EQ(rx.try_recv().error(), errc::empty);  // nobody attached yet: not disconnected
    pipe_channel done;
    const pid_t child = fork_child([&] {
        auto tx = cs::open(path);
        auto copy = tx;
        auto c = copy.send(16);
        if (!c) return false;
        fill(c.bytes(), 2, 0);
        c.commit();
        copy.notify();
        return true;  // both copies go: the attachment says goodbye
    });
    auto r = rx.recv_for(60s);
    ASSERT_TRUE(r);
    r.release();
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(rx.recv_for(60s).error(), errc::disconnected);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
    EXPECT_EQ(reap(child), 0);
}

TEST(SharedChannel, AReceiverProcessKilledIsSeenAsDisconnected) {
    ring_path path("receiver_killed");
    pipe_channel created;
    const pid_t receiver = fork_child([&] {
        auto rx = cs::create(path, 256);
        created.send();
        for (;;)
            ::pause();
    });
    ASSERT_EQ(created.receive(), 'x');
    auto tx = cs::open(path);
    EXPECT_FALSE(tx.is_disconnected());
    kill_and_reap(receiver);
    EXPECT_TRUE(tx.is_disconnected());
    // send() on the full ring notices it too, instead of waiting for ever.
    logbuf::errc last{};
    for (int i = 0; i < 100; ++i) {
        auto c = tx.send(40);
        if (!c) {
            last = c.error();
            break;
        }
        c.commit();
    }
    EXPECT_EQ(last, errc::disconnected);
}

TEST(SharedChannel, AReceiverThatLeavesStopsSenders) {
    ring_path path("receiver_left");
    auto rx = std::make_unique<cs::receiver>(cs::create(path, 256));
    auto tx = cs::open(path);
    EXPECT_TRUE(tx.try_send(8));
    rx.reset();
    EXPECT_EQ(tx.try_send(8).error(), errc::disconnected);
    EXPECT_EQ(tx.send(8).error(), errc::disconnected);
    EXPECT_TRUE(tx.is_disconnected());
}

TEST(SharedChannel, BadLengthsAndMovedFromHandles) {
    ring_path path("handles");
    auto rx = cs::create(path, 256);
    auto tx = cs::open(path);
    EXPECT_EQ(tx.send(0).error(), errc::zero_length);
    EXPECT_EQ(tx.send(249).error(), errc::too_large);
    EXPECT_EQ(tx.try_send(0).error(), errc::zero_length);
    auto tx2 = std::move(tx);
    auto rx2 = std::move(rx);
    EXPECT_EQ(tx.send(8).error(), errc::disconnected);  // NOLINT(bugprone-use-after-move)
    EXPECT_TRUE(tx.is_disconnected());
    tx.notify();
    EXPECT_EQ(rx.recv().error(), errc::disconnected);  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(rx.try_recv().error(), errc::disconnected);
    EXPECT_EQ(rx.capacity(), 0u);
    EXPECT_EQ(tx2.max_payload(), 248u);
    EXPECT_EQ(rx2.try_recv().error(), errc::empty);
    EXPECT_EQ(rx2.recv_for(-10h).error(), errc::timeout);
}

TEST(SharedChannel, OpeningSomethingElseFails) {
    ring_path path("nothing");
    EXPECT_THROW((void)cs::open(path), std::system_error);
}

}  // namespace
