// logbuf/log/details/ticks.hpp - the timestamp a log call takes: the TSC on
// x86-64 (rdtsc: about 20 cycles, no syscall, no fence), the steady clock
// elsewhere. The backend converts ticks to the system clock (log_clock.hpp
// in lib/), so the caller never asks the kernel for the time.
#pragma once

#include <chrono>
#include <cstdint>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace logbuf::log::details {

#if defined(__x86_64__)
inline constexpr bool ticks_are_tsc = true;
#else
inline constexpr bool ticks_are_tsc = false;
#endif

// The call's timestamp. Not ordered against surrounding loads and stores;
// a thread's successive values never decrease (an invariant TSC, which every
// x86-64 CPU of the last decade has and hypervisors keep in step across
// cores).
[[nodiscard, gnu::always_inline]] inline std::uint64_t ticks() noexcept {
#if defined(__x86_64__)
    return __rdtsc();
#else
    return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
#endif
}

// The same, after every earlier instruction has completed (lfence): a
// timestamp that is not earlier than anything this thread has seen
// happen. For flush(), which must cover every line logged before it.
[[nodiscard]] inline std::uint64_t ticks_after_prior() noexcept {
#if defined(__x86_64__)
    _mm_lfence();
    const std::uint64_t t = __rdtsc();
    _mm_lfence();
    return t;
#else
    return ticks();
#endif
}

}  // namespace logbuf::log::details
