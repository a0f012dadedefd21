// logbuf/queue/details/claim_space.hpp - how a producer claims space for one
// record. Both rings run this one algorithm; they differ only in the Tail
// policy that moves the tail position:
//
//   owned_tail   (SPSC) the producer is the only writer: advancing is a store.
//   shared_tail  (MPSC) producers race: advancing is a compare-exchange.
//
// The wrap rule. A record never straddles the end of the buffer: when it
// does not fit before the end, a skip region pads to the end and the record
// starts at offset 0. If padding + record do not fit but the padding alone
// does, we claim and commit the padding on its own and then try the record at
// offset 0. Claiming both or nothing (as the Rust original does) can refuse a
// record for ever: with the tail in the middle of an empty buffer, a record
// larger than either half never fits in one piece. With the padding written
// first, any record of up to max_payload() bytes fits once the consumer has
// caught up. A refused claim may leave padding behind that the record itself
// would overlap, so "caught up" means past that padding: a producer retrying
// against a consumer that keeps up is refused at most twice (once if the
// padding did not fit yet, once while the padding is being passed).
#pragma once

#include <logbuf/error.hpp>
#include <logbuf/queue/claims.hpp>
#include <logbuf/queue/details/record_format.hpp>
#include <logbuf/queue/details/ring.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace logbuf::queue::details {

// SPSC: the producer keeps the tail in a local and stores it for observers.
struct owned_tail {
    std::atomic<std::uint64_t>* shared;
    std::uint64_t* local;

    [[nodiscard]] std::uint64_t load() const noexcept { return *local; }
    [[nodiscard]] bool try_advance(std::uint64_t& /*from*/, std::uint64_t to) noexcept {
        *local = to;
        // Relaxed: nothing is published through the tail (commits publish
        // through the record header); the store only keeps it observable.
        shared->store(to, std::memory_order_relaxed);
        return true;
    }
};

// MPSC: producers take disjoint byte ranges by compare-exchange on the tail.
struct shared_tail {
    std::atomic<std::uint64_t>* shared;

    [[nodiscard]] std::uint64_t load() const noexcept {
        // Relaxed: a stale value only makes the compare-exchange fail.
        return shared->load(std::memory_order_relaxed);
    }
    [[nodiscard]] bool try_advance(std::uint64_t& from, std::uint64_t to) noexcept {
        // Relaxed: the RMW alone makes the claimed ranges disjoint. No data
        // passes between producers; the zeroed space is acquired from head
        // (ring::has_room) and the payload is released through the header.
        return shared->compare_exchange_weak(from, to, std::memory_order_relaxed,
                                             std::memory_order_relaxed);
    }
};

// Everything but the common case: wrap padding, a stale cached head, a full
// ring, a lost compare-exchange, bad lengths. Out of line so that the fast
// path below stays a handful of instructions in the caller.
//
// Claim is the claim type to build: write_claim, or the shared ring's claim
// (queue/shared.hpp), constructed as Claim(errc) or Claim(record, len).
template <class Claim = write_claim, class Tail>
[[nodiscard, gnu::noinline]] Claim claim_space_slow(const ring& r, Tail tail,
                                                    std::uint64_t& cached_head,
                                                    std::size_t len) noexcept {
    if (r.is_disconnected()) return Claim(errc::disconnected);  // a moved-from producer
    // One compare catches both len == 0 (wraps to SIZE_MAX) and len too large.
    if (len - 1 >= r.max_payload()) return Claim(len == 0 ? errc::zero_length : errc::too_large);

    const std::uint64_t need = record_size(len);
    std::uint64_t position = tail.load();
    for (;;) {
        const std::uint64_t to_end = r.bytes_to_end(position);
        const std::uint64_t padding = need <= to_end ? 0 : to_end;
        std::uint64_t take = padding + need;
        bool record_too = true;
        if (!r.has_room(cached_head, position, take)) {
            if (padding == 0 || !r.has_room(cached_head, position, padding))
                return Claim(errc::full);
            take = padding;  // the wrap rule: padding now, record at offset 0 next round
            record_too = false;
        }
        if (!tail.try_advance(position, position + take)) continue;  // lost a race: retry
        if (padding != 0) {
            // Release pairs with the consumer's acquire in reader::next_committed().
            header_of(r.at(position)).store(skip_header(padding), std::memory_order_release);
        }
        if (record_too) return Claim(r.at(position + padding), len);
        position += padding;
    }
}

// The claim both producers inline: a valid length, a record that fits before
// the end of the buffer, room by the cached head, and (MPSC) an uncontended
// compare-exchange. Anything else goes to claim_space_slow, which starts over.
template <class Claim = write_claim, class Tail>
[[nodiscard, gnu::always_inline]] inline Claim claim_space(const ring& r, Tail tail,
                                                           std::uint64_t& cached_head,
                                                           std::size_t len) noexcept {
    std::uint64_t position = tail.load();
    const std::uint64_t need = record_size(len);  // meaningless when len is bad: checked first
    if (len - 1 < r.max_payload() && need <= r.bytes_to_end(position) &&
        position + need <= cached_head + r.capacity()) [[likely]] {
        const std::uint64_t start = position;
        if (tail.try_advance(position, start + need)) [[likely]]
            return Claim(r.at(start), len);
    }
    return claim_space_slow<Claim>(r, tail, cached_head, len);
}

}  // namespace logbuf::queue::details
