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
#include <logbuf/channel/parking_stats.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <type_traits>

namespace logbuf::channel::details {

// How long one park lasts at most when nobody calls notify(). Since no
// wake-up is lost, this only bounds the damage of a sender that forgot to
// notify(); nothing else relies on it.
inline constexpr std::chrono::nanoseconds default_park_timeout = std::chrono::milliseconds(100);

template <class Parker, class Poll>
[[nodiscard]] auto wait_until(Parker& p, Poll&& poll,
                              std::chrono::steady_clock::time_point deadline,
                              std::chrono::nanoseconds park_slice, parking_stats& stats) noexcept
    -> std::invoke_result_t<Poll&> {
    using clock = std::chrono::steady_clock;
    if (auto result = poll()) return result;
    // A deadline already passed (recv_for(0)) means one look, no spinning.
    if (deadline != clock::time_point::max() && clock::now() >= deadline) return {};
    backoff b;
    for (;;) {
        if (b.spinning()) {
            b.snooze();  // a few microseconds at most: no need to read the clock
        } else {
            const clock::time_point now = clock::now();
            if (now >= deadline) return {};
            if (!b.is_completed()) {
                b.snooze();
            } else {
                const auto slice = std::min<clock::duration>(deadline - now, park_slice);
                if (auto result = p.park_unless(poll, slice)) return result;
                ++stats.parks;
                stats.slept += clock::now() - now;
                // Woken: most likely a record arrived. If not (timeout,
                // spurious), spinning a few microseconds again is cheap.
                b.reset();
            }
        }
        if (auto result = poll()) return result;
    }
}

// What a receiver keeps for waiting: its park timeout and its statistics. A
// member of every channel's receiver, so that they all wait the same way.
class receive_waiter {
  public:
    template <class Parker, class Poll>
    [[nodiscard]] auto wait_until(Parker& p, Poll&& poll,
                                  std::chrono::steady_clock::time_point deadline) noexcept
        -> std::invoke_result_t<Poll&> {
        return details::wait_until(p, poll, deadline, park_timeout_, stats_);
    }

    // At least 1 ns: a park must be able to sleep.
    void set_park_timeout(std::chrono::nanoseconds timeout) noexcept {
        park_timeout_ = std::max(timeout, std::chrono::nanoseconds(1));
    }
    [[nodiscard]] std::chrono::nanoseconds park_timeout() const noexcept { return park_timeout_; }
    [[nodiscard]] const parking_stats& stats() const noexcept { return stats_; }

  private:
    std::chrono::nanoseconds park_timeout_ = default_park_timeout;
    parking_stats stats_;
};

// The deadline for recv_for(timeout), for any Rep and Period. A timeout of a
// century or more means "for ever" (time_point::max()), which also keeps the
// conversion from overflowing; zero or negative gives a deadline already
// passed (poll once).
template <class Rep, class Period>
[[nodiscard]] std::chrono::steady_clock::time_point deadline_after(
    std::chrono::duration<Rep, Period> timeout) noexcept {
    using clock = std::chrono::steady_clock;
    constexpr std::chrono::duration<double> forever = std::chrono::hours(24 * 365 * 100);
    if (std::chrono::duration<double>(timeout) >= forever) return clock::time_point::max();
    return clock::now() + std::chrono::ceil<clock::duration>(timeout);
}

}  // namespace logbuf::channel::details
