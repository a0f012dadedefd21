// Processes killed with SIGKILL at every point of the shared ring's life:
// before a claim, half way through writing one, after a commit, during the
// consumer's drain, during recover(). Parent and child step through each
// scenario with pipes (no sleeps decide anything). What must hold: nothing
// committed is lost, a killed producer's claim holds the consumer up only
// until unblock(), and recover() returns every committed record not yet
// consumed, in order, and nothing half written.
#include "shared_test_support.hpp"

#include <logbuf/queue/shared.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <vector>

namespace {

namespace qs = logbuf::queue::shared;
using logbuf::errc;
using shared_test::decode;
using shared_test::fill;
using shared_test::fork_child;
using shared_test::kill_and_reap;
using shared_test::length_of;
using shared_test::pipe_channel;
using shared_test::reap;
using shared_test::ring_path;

constexpr std::size_t max_len = 200;

// Commits records [from, to) of `source`, each checked-length and stamped.
bool commit_records(qs::producer& tx, std::uint32_t source, std::uint64_t from, std::uint64_t to) {
    for (std::uint64_t q = from; q < to; ++q) {
        auto c = tx.try_claim(length_of(source, q, max_len));
        if (!c) return false;
        fill(c.bytes(), source, q);
        c.commit();
    }
    return true;
}

// What a reader saw: per source, the sequences in order; any record that
// does not decode counts as corrupt.
struct seen {
    std::map<std::uint32_t, std::vector<std::uint64_t>> by_source;
    std::size_t corrupt = 0;
    void operator()(std::span<const std::byte> r) {
        std::uint32_t s = 0;
        std::uint64_t q = 0;
        if (!decode(r, s, q) || r.size() != length_of(s, q, max_len)) {
            ++corrupt;
            return;
        }
        by_source[s].push_back(q);
    }
};

std::vector<std::uint64_t> range(std::uint64_t from, std::uint64_t to) {
    std::vector<std::uint64_t> v;
    for (std::uint64_t q = from; q < to; ++q)
        v.push_back(q);
    return v;
}

// Points at which a producer process is killed.
enum class kill_point { before_claim, mid_write, after_commit };

class SharedProducerKilled : public ::testing::TestWithParam<kill_point> {};

TEST_P(SharedProducerKilled, LosesNothingCommittedAndStallsOnlyUntilUnblock) {
    ring_path path("producer_killed");
    auto rx = qs::create(path, 1 << 14);
    pipe_channel ready;
    const kill_point point = GetParam();
    const pid_t child = fork_child([&] {
        ready.close_read();
        auto tx = qs::open(path);
        if (!commit_records(tx, 1, 0, 20)) return false;
        if (point == kill_point::mid_write) {
            auto c = tx.try_claim(150);
            if (!c) return false;
            std::memset(c.data(), 0x77, 75);  // half the payload
            ready.send();
            for (;;)
                ::pause();  // killed here, holding the claim
        }
        ready.send();
        for (;;)
            ::pause();
    });
    ASSERT_EQ(ready.receive(), 'x');
    EXPECT_EQ(kill_and_reap(child), 128 + SIGKILL);

    // A live producer in this process writes behind the dead one's claim.
    auto tx = qs::open(path);
    ASSERT_TRUE(commit_records(tx, 2, 0, 10));

    seen got;
    rx.drain(std::ref(got));
    EXPECT_EQ(got.by_source[1], range(0, 20));
    const auto timeout = std::chrono::milliseconds(200);
    const auto start = std::chrono::steady_clock::now();
    std::size_t unblocked = 0;
    while (got.by_source[2].size() < 10 &&
           std::chrono::steady_clock::now() - start < std::chrono::seconds(30)) {
        unblocked += rx.unblock(timeout);
        rx.drain(std::ref(got));
    }
    const auto stalled = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(got.by_source[2], range(0, 10));
    EXPECT_EQ(got.corrupt, 0u);
    EXPECT_EQ(unblocked, point == kill_point::mid_write ? 1u : 0u);
    if (point == kill_point::mid_write) {
        EXPECT_GE(stalled, timeout);
        EXPECT_LT(stalled, timeout + std::chrono::seconds(5));  // generous: a loaded CI machine
    }
    // The ring goes on normally.
    for (std::uint64_t q = 10; q < 400; ++q) {
        ASSERT_TRUE(commit_records(tx, 2, q, q + 1));
        rx.drain(std::ref(got));
    }
    EXPECT_EQ(got.by_source[2], range(0, 400));
}

INSTANTIATE_TEST_SUITE_P(Points, SharedProducerKilled,
                         ::testing::Values(kill_point::before_claim, kill_point::mid_write,
                                           kill_point::after_commit),
                         [](const auto& param_info) {
                             switch (param_info.param) {
                                 case kill_point::before_claim:
                                     return "BeforeClaim";
                                 case kill_point::mid_write:
                                     return "MidWrite";
                                 case kill_point::after_commit:
                                     return "AfterCommit";
                             }
                             return "unknown";
                         });

// Every process killed: two producers (one mid-write, one after its
// commits), and a consumer in the middle of a drain. recover() returns what
// the consumer had not finished with, in order, and nothing half written.
TEST(SharedFault, RecoverAfterEveryProcessWasKilled) {
    ring_path path("all_killed");
    pipe_channel consumer_ready, producers_done, consumer_go, consumer_in_drain, consumed_count;
    const pid_t consumer = fork_child([&] {
        auto rx = qs::create(path, 1 << 16);
        consumer_ready.send();
        if (consumer_go.receive() != 'x') return false;
        std::size_t n = 0;
        rx.drain([&](std::span<const std::byte>) {
            if (++n == 7) {
                consumed_count.send(static_cast<char>(n));
                consumer_in_drain.send();
                for (;;)
                    ::pause();  // killed inside f, the 7th record not finished
            }
        });
        return false;
    });
    ASSERT_EQ(consumer_ready.receive(), 'x');
    const pid_t writer = fork_child([&] {
        auto tx = qs::open(path);
        if (!commit_records(tx, 1, 0, 30)) return false;
        producers_done.send();
        for (;;)
            ::pause();
    });
    ASSERT_EQ(producers_done.receive(), 'x');
    const pid_t half = fork_child([&] {
        auto tx = qs::open(path);
        if (!commit_records(tx, 2, 0, 5)) return false;
        auto c = tx.try_claim(180);
        if (!c) return false;
        std::memset(c.data(), 0x42, 90);
        producers_done.send();
        for (;;)
            ::pause();
    });
    ASSERT_EQ(producers_done.receive(), 'x');
    {
        auto tx = qs::open(path);  // behind the half-written claim
        ASSERT_TRUE(commit_records(tx, 1, 30, 40));
    }
    consumer_go.send();
    ASSERT_EQ(consumer_in_drain.receive(), 'x');
    EXPECT_EQ(consumed_count.receive(), 7);
    kill_and_reap(consumer);
    kill_and_reap(writer);
    kill_and_reap(half);

    // The consumer saw records 0..6 of source 1; f did not return for the
    // 7th (sequence 6), so it is not consumed and comes back.
    for (int attempt = 0; attempt < 2; ++attempt) {  // recover() changes nothing
        seen got;
        const std::size_t n = qs::recover(path, std::ref(got));
        EXPECT_EQ(got.corrupt, 0u);
        EXPECT_EQ(got.by_source[1], range(6, 40));
        EXPECT_EQ(got.by_source[2], range(0, 5));
        EXPECT_EQ(n, 34u + 5u);
    }
}

// A recover() killed half way (its f blocks) leaves the file as it was: the
// next recover() returns the same records.
TEST(SharedFault, RecoverKilledHalfWayCanBeRunAgain) {
    ring_path path("recover_killed");
    {
        auto rx = qs::create(path, 1 << 14);
        auto tx = qs::open(path);
        ASSERT_TRUE(commit_records(tx, 3, 0, 25));
        rx.drain([](std::span<const std::byte>) {}, 5);
    }
    pipe_channel halfway;
    const pid_t child = fork_child([&] {
        std::size_t n = 0;
        qs::recover(path, [&](std::span<const std::byte>) {
            if (++n == 10) {
                halfway.send();
                for (;;)
                    ::pause();
            }
        });
        return false;
    });
    ASSERT_EQ(halfway.receive(), 'x');
    kill_and_reap(child);
    seen got;
    EXPECT_EQ(qs::recover(path, std::ref(got)), 20u);
    EXPECT_EQ(got.by_source[3], range(5, 25));
    EXPECT_EQ(got.corrupt, 0u);
}

// A producer killed between taking its space and marking it (header still
// 0): unblock() finds where the next record starts by its zeroed bytes.
TEST(SharedFault, AClaimKilledBeforeItsMarkIsUnblocked) {
    ring_path path("unmarked");
    auto rx = qs::create(path, 4096);
    {
        // What a producer killed right after its tail CAS leaves: claimed
        // space with a zero header and zero body.
        auto tx = qs::open(path);
        auto c = tx.try_claim(64);
        ASSERT_TRUE(c);
        logbuf::queue::details::header_of(c.data() - 8).store(0);
        new (&c) qs::write_claim();  // the process is gone: nobody aborts
    }
    auto tx = qs::open(path);
    ASSERT_TRUE(commit_records(tx, 4, 0, 3));
    seen got;
    EXPECT_EQ(rx.drain(std::ref(got)), 0u);
    EXPECT_EQ(rx.unblock(std::chrono::nanoseconds(0)), 1u);
    rx.drain(std::ref(got));
    EXPECT_EQ(got.by_source[4], range(0, 3));
    EXPECT_EQ(got.corrupt, 0u);
}

}  // namespace
