// logbuf/channel/details/wait.hpp - the receiver's wait loop, shared by every
// channel: poll; spin; yield; park on the parker; poll again.
//
//   auto r = details::wait_until(parker, poll, deadline, park_slice, stats);
//
// poll() is cheap, does not block, and returns something like
// std::optional<T>: engaged means "done" (a value, or a final state such as
// disconnected), empty means "nothing yet". wait_until returns the first
// engaged result, or an empty one once `deadline` has passed. Senders must
// call parker.notify() after each publish, or the receiver may sleep until
// its park slice runs out.
#pragma once

#include <logbuf/channel/details/backoff.hpp>
#include <logbuf/channel/details/parker.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <type_traits>

namespace logbuf::channel {

// How much a receiver slept in the kernel: each park is one futex wait that
// ended by a notify(), a park timeout, or a spurious wake-up.
struct parking_stats {
    std::uint64_t parks = 0;
    std::chrono::nanoseconds slept{0};
};

namespace details {

// How long one park lasts at most when nobody calls notify(). Since no
// wake-up is lost, this only bounds the damage of a sender that forgot to
// notify(); nothing else relies on it.
inline constexpr std::chrono::nanoseconds default_park_timeout = std::chrono::milliseconds(100);

template <class Poll>
[[nodiscard]] auto wait_until(parker& p, Poll&& poll,
                              std::chrono::steady_clock::time_point deadline,
                              std::chrono::nanoseconds park_slice, parking_stats& stats) noexcept
    -> std::invoke_result_t<Poll&> {
    using clock = std::chrono::steady_clock;
    backoff b;
    for (;;) {
        if (auto result = poll()) return result;
        if (b.spinning()) {
            b.snooze();  // a few microseconds at most: no need to read the clock
            continue;
        }
        const clock::time_point now = clock::now();
        if (now >= deadline) return {};
        if (!b.is_completed()) {
            b.snooze();
            continue;
        }
        const auto slice = std::min<clock::duration>(deadline - now, park_slice);
        if (auto result = p.park_unless(poll, slice)) return result;
        ++stats.parks;
        stats.slept += clock::now() - now;
        // Woken: most likely a record arrived. If not (timeout, spurious),
        // spinning a few microseconds again before the next park is cheap.
        b.reset();
    }
}

}  // namespace details
}  // namespace logbuf::channel
