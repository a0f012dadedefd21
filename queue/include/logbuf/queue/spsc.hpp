// logbuf/queue/spsc.hpp - single-producer single-consumer byte ring.
//
//   auto [tx, rx] = logbuf::queue::spsc::make(1 << 20);
//   if (auto c = tx.try_claim(n)) { std::memcpy(c.data(), src, n); c.commit(); }
//   rx.drain([](std::span<const std::byte> record) { ... });
//
// Lock-free, never blocks, never allocates after make(). The producer owns the
// tail: claiming is a plain store. Record format and consumer: see
// details/record_format.hpp and consumer.hpp, shared with the MPSC ring.
#pragma once

#include <logbuf/details/cache_line.hpp>
#include <logbuf/error.hpp>
#include <logbuf/queue/claims.hpp>
#include <logbuf/queue/consumer.hpp>
#include <logbuf/queue/details/claim_space.hpp>
#include <logbuf/queue/details/ring.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

namespace logbuf::queue::spsc {

using logbuf::queue::consumer;
using logbuf::queue::read_claim;
using logbuf::queue::write_claim;

// The writing end. Move-only: exactly one producer exists per ring.
// Its per-claim state (the cached head, SPSC: the tail) lives in the handle,
// which is 128-byte aligned and sized so that it never shares a cache line
// with a neighbour (make()'s std::pair puts the consumer right after it).
class alignas(logbuf::details::false_sharing_range) producer {
  public:
    // A producer of the ring `view` describes; `owner` keeps its storage
    // alive (make() passes the allocation; a file-backed ring its mapping).
    producer(const details::ring& view, std::shared_ptr<void> owner) noexcept
        : ring_(view), owner_(std::move(owner)) {}
    // A moved-from producer is empty: try_claim() reports errc::disconnected.
    producer(producer&& other) noexcept
        : ring_(std::exchange(other.ring_, details::ring::disconnected())),
          owner_(std::move(other.owner_)),
          tail_(other.tail_),
          cached_head_(other.cached_head_) {}
    producer& operator=(producer&& other) noexcept {
        if (this != &other) {
            ring_ = std::exchange(other.ring_, details::ring::disconnected());
            owner_ = std::move(other.owner_);
            tail_ = other.tail_;
            cached_head_ = other.cached_head_;
        }
        return *this;
    }
    producer(const producer&) = delete;
    producer& operator=(const producer&) = delete;
    ~producer() = default;

    // Claims space for a `len`-byte record. On failure the claim is empty and
    // error() is errc::full, errc::zero_length or errc::too_large
    // (len > max_payload()), or errc::disconnected on a moved-from producer.
    // Never blocks, allocates or throws.
    [[nodiscard]] write_claim try_claim(std::size_t len) noexcept {
        return details::claim_space(ring_, details::owned_tail{&ring_.tail(), &tail_}, cached_head_,
                                    len);
    }

    // As try_claim(), but while the ring is full it calls keep_waiting()
    // between tries: keep_waiting() waits a little (spin, yield) and returns
    // false to give up, and the claim is then empty with errc::full. (The
    // MPSC producer's version also keeps other producers from claiming ahead
    // of it.) The channel's send() waits this way.
    template <class KeepWaiting>
    [[nodiscard]] write_claim claim_waiting(std::size_t len, KeepWaiting&& keep_waiting) noexcept(
        noexcept(keep_waiting())) {
        return details::claim_waiting(ring_, details::owned_tail{&ring_.tail(), &tail_},
                                      cached_head_, len, std::forward<KeepWaiting>(keep_waiting));
    }

    // 0 on a moved-from producer.
    [[nodiscard]] std::size_t capacity() const noexcept { return ring_.capacity(); }
    [[nodiscard]] std::size_t max_payload() const noexcept {
        return ring_.is_disconnected() ? 0 : ring_.max_payload();
    }

  private:
    details::ring ring_;             // read-only view
    std::shared_ptr<void> owner_;    // keeps the storage alive
    std::uint64_t tail_ = 0;         // the tail; ours alone
    std::uint64_t cached_head_ = 0;  // last head seen; reloaded only when the ring looks full
};

// A ring of at least `capacity` bytes (rounded up to a power of two). Throws
// std::invalid_argument if capacity < 16 or > 2^62.
[[nodiscard]] inline std::pair<producer, consumer> make(std::size_t capacity) {
    return details::make_ring<producer>(capacity);
}

}  // namespace logbuf::queue::spsc
