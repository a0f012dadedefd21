// logbuf/channel/spsc.hpp - single-producer single-consumer byte channel: the
// SPSC ring (logbuf/queue/spsc.hpp) plus sender backoff, receiver parking and
// disconnection.
//
//   auto [tx, rx] = logbuf::channel::spsc::make(1 << 20);
//   // hot thread:
//   if (auto c = tx.send(n)) { std::memcpy(c.data(), p, n); c.commit(); tx.notify(); }
//   // logger thread:
//   while (auto r = rx.recv()) write(r.bytes());   // ends with errc::disconnected
//
// The sender is move-only. See details/channel.hpp for the behaviour of each
// call, details/parker.hpp for how the receiver sleeps and is woken.
#pragma once

#include <logbuf/channel/details/channel.hpp>
#include <logbuf/queue/spsc.hpp>

#include <cstddef>
#include <utility>

namespace logbuf::channel::spsc {

using logbuf::queue::read_claim;
using logbuf::queue::write_claim;

using sender = details::basic_sender<queue::spsc::producer>;
using receiver = details::receiver;

// A channel over a ring of at least `capacity` bytes (rounded up to a power
// of two). Throws std::invalid_argument if capacity < 16 or > 2^62.
// `mode`: how notify() and parking share the cost of never losing a wake-up
// (see fence_mode; the default suits senders that notify() every record).
[[nodiscard]] inline std::pair<sender, receiver> make(std::size_t capacity,
                                                      fence_mode mode = fence_mode::membarrier) {
    return details::make_channel<sender>(queue::spsc::make(capacity), mode);
}

}  // namespace logbuf::channel::spsc
