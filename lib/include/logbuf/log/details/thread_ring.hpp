// logbuf/log/details/thread_ring.hpp - the ring a logging thread writes
// into. Each thread that logs gets one at its first call (the only
// allocation its log calls ever make), shared by every logger it logs
// through, so a thread's lines keep their order. The backend thread holds
// the other end. When the thread exits, the ring is marked retired; the
// backend drains it and only then frees it, so nothing the thread logged is
// lost.
#pragma once

#include <logbuf/details/cache_line.hpp>
#include <logbuf/queue/spsc.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace logbuf::log::details {

struct thread_ring {
    // Throws what spsc::make throws (std::bad_alloc, std::invalid_argument).
    thread_ring(std::size_t capacity, std::uint64_t thread_id,
                std::pair<queue::spsc::producer, queue::spsc::consumer> ends);

    // The logging thread's end.
    queue::spsc::producer producer;
    const std::size_t capacity;     // bytes
    const std::size_t max_record;   // longest payload one call may claim: a quarter of the ring
    const std::uint64_t thread_id;  // as spdlog prints it (%t)

    // The backend's end, on cache lines of its own.
    alignas(logbuf::details::false_sharing_range) queue::spsc::consumer consumer;
    // Set (release) by the thread's exit, or when the thread moved to a
    // larger ring; read (acquire) by the backend before it looks for records
    // one last time: everything committed before the store is then visible.
    std::atomic<bool> retired{false};
    // Which fork generation made this ring (log_source.cpp).
    std::uint64_t generation = 0;
};

// This thread's ring; null before its first call (and in a child after fork).
// constinit: no TLS init guard, so reading it is a single %fs-relative load.
inline thread_local constinit thread_ring* current_ring = nullptr;

// The slow half of a call: makes this thread's ring (of at least
// `min_capacity` bytes) and hands it to the backend. Returns null if the
// allocation fails (the call is then dropped and counted).
[[nodiscard]] thread_ring* attach_this_thread(std::size_t min_capacity) noexcept;

}  // namespace logbuf::log::details
