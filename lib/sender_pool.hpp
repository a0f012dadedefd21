// lib/sender_pool.hpp - one ring producer per calling thread, without
// thread_local state.
//
// An MPSC producer may be used by one thread at a time (it caches the
// consumer's position). spdlog::logger is called from any number of threads,
// so the logger's ring keeps a small table of producer copies, each behind a busy
// flag. A log call leases the slot its thread id hashes to (the flag is
// almost always free and its cache line already in the caller's cache),
// or the next free one, and hands it back when its record is committed.
//
// Why not a thread_local producer per thread: it would outlive the logger (a
// producer keeps the ring alive), and a thread_local in a PIC library is a
// __tls_get_addr call.
//
//   sender_pool pool(std::move(tx), 8);
//   { auto tx = pool.acquire(thread_id); auto c = tx->try_claim(n); ... }
//   if (auto tx = pool.try_acquire(thread_id)) ...   // never waits
//   pool.reset(std::move(other));   // after fork(), in the child: a new ring
#pragma once

#include <logbuf/channel/details/backoff.hpp>
#include <logbuf/details/cache_line.hpp>
#include <logbuf/queue/mpsc.hpp>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>

namespace logbuf::details {

class sender_pool {
    struct alignas(false_sharing_range) slot {
        std::atomic<bool> busy{false};
        std::optional<queue::mpsc::producer> tx;
    };

  public:
    // Owns one copy of `tx` per slot; `slots` is rounded up to a power of two.
    sender_pool(queue::mpsc::producer tx, std::size_t slots)
        : size_(std::bit_ceil(std::max<std::size_t>(slots, 1))),
          slots_(std::make_unique<slot[]>(size_)) {
        for (std::size_t i = 0; i + 1 < size_; ++i)
            slots_[i].tx.emplace(tx);
        slots_[size_ - 1].tx.emplace(std::move(tx));
    }

    // A slot held by one thread, or nothing (operator bool); released on
    // destruction.
    class lease {
      public:
        lease() noexcept = default;
        explicit lease(slot& s) noexcept : slot_(&s) {}
        lease(lease&& other) noexcept : slot_(std::exchange(other.slot_, nullptr)) {}
        lease& operator=(lease&& other) noexcept {
            if (this != &other) {
                release();
                slot_ = std::exchange(other.slot_, nullptr);
            }
            return *this;
        }
        lease(const lease&) = delete;
        lease& operator=(const lease&) = delete;
        ~lease() { release(); }
        explicit operator bool() const noexcept { return slot_ != nullptr; }
        queue::mpsc::producer& operator*() const noexcept { return *slot_->tx; }
        queue::mpsc::producer* operator->() const noexcept { return &*slot_->tx; }

      private:
        void release() noexcept {
            // Release pairs with the acquire exchange in try_acquire(): the
            // next holder sees what we did to the sender (its cached head).
            if (slot_) slot_->busy.store(false, std::memory_order_release);
            slot_ = nullptr;
        }

        slot* slot_ = nullptr;
    };

    // One pass over the slots, starting at the one `thread_id` hashes to:
    // the first free one, or an empty lease if every slot is busy (more
    // threads than slots are in a log call at this very moment).
    [[nodiscard]] lease try_acquire(std::uint64_t thread_id) noexcept {
        // Fibonacci hashing: consecutive thread ids land far apart.
        const auto first = static_cast<std::size_t>((thread_id * 0x9E3779B97F4A7C15ull) >> 40);
        for (std::size_t k = 0; k < size_; ++k) {
            slot& s = slots_[(first + k) & (size_ - 1)];
            // Relaxed peek first: a busy slot's line stays shared instead of
            // bouncing between threads on failed exchanges. The acquire
            // exchange pairs with the release in ~lease().
            if (!s.busy.load(std::memory_order_relaxed) &&
                !s.busy.exchange(true, std::memory_order_acquire))
                return lease(s);
        }
        return {};
    }

    // try_acquire() until it succeeds, spinning then yielding in between.
    [[nodiscard]] lease acquire(std::uint64_t thread_id) noexcept {
        channel::details::backoff wait;
        for (;;) {
            if (lease l = try_acquire(thread_id)) return l;
            wait.snooze();
        }
    }

    // In a fork child (one thread, no lease of its own out): every slot gets
    // a copy of `tx` and is free, whatever threads of the parent held.
    void reset(queue::mpsc::producer tx) noexcept {
        for (std::size_t i = 0; i < size_; ++i) {
            slots_[i].tx.emplace(tx);
            // Relaxed: nothing else runs in the child yet.
            slots_[i].busy.store(false, std::memory_order_relaxed);
        }
    }

    [[nodiscard]] std::size_t size() const noexcept { return size_; }

  private:
    std::size_t size_;
    std::unique_ptr<slot[]> slots_;
};

}  // namespace logbuf::details
