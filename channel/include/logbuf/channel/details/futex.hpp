// logbuf/channel/details/futex.hpp - wait for a 32-bit word to change, with a
// timeout. Linux: FUTEX_WAIT_PRIVATE / FUTEX_WAKE_PRIVATE for a word only this
// process uses, FUTEX_WAIT / FUTEX_WAKE (the kernel keys the word by file and
// offset) for a word in a MAP_SHARED mapping that other processes wait on or
// wake. Elsewhere: a small table of mutex + condition variable pairs keyed by
// the word's address (process-private words only; a shared word's wait there
// sleeps at most 1 ms and relies on the caller's re-check).
//
// This is the kernel-sleep primitive under the receiver's parker; it is never
// called on a sender's hot path.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace logbuf::channel::details {

// Who may wait on or wake the word.
enum class futex_scope : bool {
    process_private,  // threads of this process only (the default)
    shared,           // any process that maps the same file (MAP_SHARED)
};

// Sleeps while `word == expected`, at most `timeout`. Returns early (spuriously
// or not) on a wake, a signal, or when the value already differs. The caller
// re-checks its condition in a loop; the return value is only a hint.
void futex_wait(const std::atomic<std::uint32_t>& word, std::uint32_t expected,
                std::chrono::nanoseconds timeout,
                futex_scope scope = futex_scope::process_private) noexcept;

// Wakes up to one / all threads sleeping in futex_wait on `word`.
void futex_wake_one(const std::atomic<std::uint32_t>& word,
                    futex_scope scope = futex_scope::process_private) noexcept;
void futex_wake_all(const std::atomic<std::uint32_t>& word,
                    futex_scope scope = futex_scope::process_private) noexcept;

}  // namespace logbuf::channel::details
