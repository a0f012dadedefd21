// logbuf/queue/mpsc.hpp - multi-producer single-consumer byte ring.
//
//   auto [tx, rx] = logbuf::queue::mpsc::make(1 << 20);
//   std::thread t([tx]() mutable { auto c = tx.try_claim(n); ... c.commit(); });
//
// Producers claim space with a compare-exchange on the shared tail; records
// come out in claim order, and a claimed but uncommitted record holds back the
// ones behind it until it is committed or aborted. Record format and
// consumer: see details/record_format.hpp and consumer.hpp, shared with the SPSC ring.
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

namespace logbuf::queue::mpsc {

using logbuf::queue::consumer;
using logbuf::queue::read_claim;
using logbuf::queue::write_claim;

// The writing end. Copyable: a copy is one more producer. One producer
// object is used by one thread at a time; give each thread its own copy.
// Its per-claim state (the cached head, SPSC: the tail) lives in the handle,
// which is 128-byte aligned and sized so that it never shares a cache line
// with a neighbour (make()'s std::pair puts the consumer right after it).
class alignas(logbuf::details::false_sharing_range) producer {
  public:
    // A producer of the ring `view` describes; `owner` keeps its storage
    // alive (make() passes the allocation; a file-backed ring its mapping).
    producer(const details::ring& view, std::shared_ptr<void> owner) noexcept
        : ring_(view), owner_(std::move(owner)) {}
    producer(const producer&) noexcept = default;
    producer& operator=(const producer&) noexcept = default;
    // A moved-from producer is empty: try_claim() reports errc::disconnected.
    producer(producer&& other) noexcept
        : ring_(std::exchange(other.ring_, details::ring::disconnected())),
          owner_(std::move(other.owner_)),
          cached_head_(other.cached_head_) {}
    producer& operator=(producer&& other) noexcept {
        if (this != &other) {
            ring_ = std::exchange(other.ring_, details::ring::disconnected());
            owner_ = std::move(other.owner_);
            cached_head_ = other.cached_head_;
        }
        return *this;
    }
    ~producer() = default;

    // Claims space for a `len`-byte record. On failure the claim is empty and
    // error() is errc::full, errc::zero_length or errc::too_large
    // (len > max_payload()), or errc::disconnected on a moved-from producer.
    // Lock-free; never blocks, allocates or throws.
    [[nodiscard]] write_claim try_claim(std::size_t len) noexcept {
        return details::claim_space(ring_, details::shared_tail{&ring_.tail()}, cached_head_, len);
    }

    // As try_claim(), but while the ring is full it calls keep_waiting()
    // between tries: keep_waiting() waits a little (spin, yield) and returns
    // false to give up, and the claim is then empty with errc::full. A record
    // of more than an eighth of the ring, once refused, takes the ring's
    // turn: no other producer's claim succeeds until this one has its space,
    // which it gets as soon as the consumer has released the records claimed
    // before it. The turn is held only while the consumer moves: after 4096
    // waits with the consumer's position standing still (it may be waiting
    // for another producer's record before it releases anything) it is given
    // back until the consumer moves. One producer holds the turn at a time; another large waiter
    // is refused until the turn is free (the turn is not queued). The
    // channel's send() waits this way.
    template <class KeepWaiting>
    [[nodiscard]] write_claim claim_waiting(std::size_t len, KeepWaiting&& keep_waiting) noexcept(
        noexcept(keep_waiting())) {
        return details::claim_waiting(ring_, details::shared_tail{&ring_.tail()}, cached_head_, len,
                                      std::forward<KeepWaiting>(keep_waiting));
    }

    // 0 on a moved-from producer.
    [[nodiscard]] std::size_t capacity() const noexcept { return ring_.capacity(); }
    [[nodiscard]] std::size_t max_payload() const noexcept {
        return ring_.is_disconnected() ? 0 : ring_.max_payload();
    }

  private:
    details::ring ring_;             // read-only view
    std::shared_ptr<void> owner_;    // keeps the storage alive
    std::uint64_t cached_head_ = 0;  // this copy's last view of head; reloaded when it looks full
};

// A ring of at least `capacity` bytes (rounded up to a power of two). Throws
// std::invalid_argument if capacity < 16 or > 2^62.
[[nodiscard]] inline std::pair<producer, consumer> make(std::size_t capacity) {
    return details::make_ring<producer>(capacity);
}

}  // namespace logbuf::queue::mpsc
