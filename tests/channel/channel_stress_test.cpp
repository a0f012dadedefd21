// Several senders against one receiver through a small ring (so it is often
// full and wraps constantly): every record arrives once, intact, and in
// order per sender; the receiver ends with disconnected.
#include "channel_test_util.hpp"

#include <logbuf/channel/mpsc.hpp>
#include <logbuf/channel/spsc.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <span>
#include <thread>
#include <utility>
#include <vector>

namespace {

using logbuf::errc;

// Record: [sender id: 1 byte][sequence: 4 bytes][filler derived from both],
// 5 to 100 bytes long.
constexpr std::size_t header_bytes = 5;

std::size_t length_for(std::uint32_t seq) {
    return header_bytes + (seq * 7919u) % 96u;
}

std::byte filler(std::uint8_t id, std::uint32_t seq, std::size_t i) {
    return static_cast<std::byte>((id * 31u + seq * 17u + i) & 0xffu);
}

template <class Sender>
void run_sender(Sender tx, std::uint8_t id, std::uint32_t count) {
    for (std::uint32_t seq = 0; seq < count; ++seq) {
        const std::size_t len = length_for(seq);
        auto c = tx.send(len);
        ASSERT_TRUE(c) << logbuf::to_string(c.error());
        std::byte* p = c.data();
        p[0] = static_cast<std::byte>(id);
        std::memcpy(p + 1, &seq, sizeof seq);
        for (std::size_t i = header_bytes; i < len; ++i)
            p[i] = filler(id, seq, i);
        c.commit();
        tx.notify();
    }
}

// Receives until disconnected, alternating recv() and drain(); checks every
// record. Returns how many came from each sender.
template <class Receiver>
std::vector<std::uint32_t> run_receiver(Receiver& rx, std::size_t senders) {
    std::vector<std::uint32_t> next(senders, 0);
    const auto check = [&](std::span<const std::byte> b) {
        ASSERT_GE(b.size(), header_bytes);
        const auto id = static_cast<std::uint8_t>(b[0]);
        ASSERT_LT(id, senders);
        std::uint32_t seq = 0;
        std::memcpy(&seq, b.data() + 1, sizeof seq);
        ASSERT_EQ(seq, next[id]) << "sender " << int{id} << " out of order";
        ASSERT_EQ(b.size(), length_for(seq));
        for (std::size_t i = header_bytes; i < b.size(); ++i)
            ASSERT_EQ(b[i], filler(id, seq, i)) << "sender " << int{id} << " seq " << seq;
        ++next[id];
    };
    for (std::uint64_t n = 0;; ++n) {
        if (n % 4 == 3) {
            rx.drain(check, 16);
            continue;
        }
        auto r = rx.recv();
        if (!r) {
            EXPECT_EQ(r.error(), errc::disconnected);
            break;
        }
        check(r.bytes());
        if (::testing::Test::HasFatalFailure()) break;
    }
    return next;
}

TEST(ChannelStress, TwoSendersMpsc) {
    const std::uint32_t per_sender = 40000 / channel_test::sanitizer_divisor;
    auto [tx, rx] = logbuf::channel::mpsc::make(1024);
    std::thread a(run_sender<logbuf::channel::mpsc::sender>, tx, std::uint8_t{0}, per_sender);
    std::thread b(run_sender<logbuf::channel::mpsc::sender>, std::move(tx), std::uint8_t{1},
                  per_sender);
    const auto counts = run_receiver(rx, 2);
    a.join();
    b.join();
    EXPECT_EQ(counts[0], per_sender);
    EXPECT_EQ(counts[1], per_sender);
}

TEST(ChannelStress, OneSenderSpsc) {
    const std::uint32_t count = 60000 / channel_test::sanitizer_divisor;
    auto [tx, rx] = logbuf::channel::spsc::make(512);
    std::thread a(run_sender<logbuf::channel::spsc::sender>, std::move(tx), std::uint8_t{0}, count);
    const auto counts = run_receiver(rx, 1);
    a.join();
    EXPECT_EQ(counts[0], count);
}

}  // namespace
