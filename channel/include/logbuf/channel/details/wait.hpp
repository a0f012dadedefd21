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
#include <limits>
#include <numeric>
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

// True if a duration of period `From` converts to one of period `To` with
// <ratio>'s exact arithmetic, i.e. the conversion factor From/To, reduced
// the way std::ratio_divide reduces it, fits in intmax_t. (duration<R,
// ratio<10^12>> to nanoseconds does not: 10^21. Naming such a conversion is
// a compile error, so deadline_after goes through double for it.)
template <class From, class To>
[[nodiscard]] consteval bool exact_tick_conversion() noexcept {
    constexpr std::intmax_t g1 = std::gcd(From::num, To::num);
    constexpr std::intmax_t g2 = std::gcd(From::den, To::den);
    constexpr auto fits = [](std::intmax_t a, std::intmax_t b) {
        return a <= std::numeric_limits<std::intmax_t>::max() / b;
    };
    return fits(From::num / g1, To::den / g2) && fits(From::den / g2, To::num / g1);
}

// The deadline for recv_for(timeout), for any Rep and Period, without
// overflow for any value:
//   - zero, negative or NaN: a deadline already passed (poll once);
//   - a century or more (+infinity, hours::max(), nanoseconds::max()...):
//     time_point::max(), which wait_until() reads as "for ever";
//   - anything between: now + timeout, rounded up to the clock's tick.
// The two comparisons run in the common type of the argument and
// duration<double> (floating point), which cannot overflow; past them the
// timeout is below a century, 3.2e18 ns, which fits the clock's 64-bit count
// (steady_clock counts from boot). Integer timeouts then convert exactly;
// floating ones, and periods too coarse for exact conversion, through double.
template <class Rep, class Period>
[[nodiscard]] std::chrono::steady_clock::time_point deadline_after(
    std::chrono::duration<Rep, Period> timeout) noexcept {
    using clock = std::chrono::steady_clock;
    using seconds = std::chrono::duration<double>;
    constexpr seconds forever = std::chrono::hours(24 * 365 * 100);
    if (!(timeout > seconds::zero())) return clock::time_point::min();
    if (timeout >= forever) return clock::time_point::max();
    if constexpr (std::chrono::treat_as_floating_point_v<Rep> ||
                  !exact_tick_conversion<Period, clock::period>()) {
        return clock::now() + std::chrono::ceil<clock::duration>(seconds(timeout));
    } else {
        return clock::now() + std::chrono::ceil<clock::duration>(timeout);
    }
}

}  // namespace logbuf::channel::details
