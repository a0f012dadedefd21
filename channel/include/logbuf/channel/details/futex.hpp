// logbuf/channel/details/futex.hpp - wait for a 32-bit word to change, with a
// timeout. Linux: FUTEX_WAIT_PRIVATE / FUTEX_WAKE_PRIVATE. Elsewhere: a small
// table of mutex + condition variable pairs keyed by the word's address.
//
// This is the kernel-sleep primitive under the receiver's parker; it is never
// called on a sender's hot path.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace logbuf::channel::details {

// Sleeps while `word == expected`, at most `timeout`. Returns early (spuriously
// or not) on a wake, a signal, or when the value already differs. The caller
// re-checks its condition in a loop; the return value is only a hint.
void futex_wait(const std::atomic<std::uint32_t>& word, std::uint32_t expected,
                std::chrono::nanoseconds timeout) noexcept;

// Wakes up to one / all threads sleeping in futex_wait on `word`.
void futex_wake_one(const std::atomic<std::uint32_t>& word) noexcept;
void futex_wake_all(const std::atomic<std::uint32_t>& word) noexcept;

}  // namespace logbuf::channel::details
