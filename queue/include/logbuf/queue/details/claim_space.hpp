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
//
// The turn (MPSC). The wrap rule makes a large record fit once the consumer
// has caught up, but other producers writing all the time keep the ring from
// ever getting that empty: a record of half the ring waited up to 143 ms (1.6
// M refusals) against one busy small-record producer. claim_waiting() - the
// claim that waits, used by the channel's send() - therefore takes the turn
// for a record of more than an eighth of the ring when its first try is
// refused: it sets turn_bit in the tail word with one fetch_or. Every other producer's fast-path
// room check then fails by itself (the tail reads >= 2^63), and its slow path refuses (errc::full)
// without touching the ring, so the tail stands still; the holder claims at the frozen tail as soon
// as the consumer has released what was claimed before it, and the compare-exchange that takes its
// record clears the bit. The bound: once the turn is taken, no other producer's claim succeeds
// until the holder's does (while the consumer moves: see turn_patience), and the holder plants wrap
// padding at most once. Only one producer holds the turn (fetch_or tells who set the bit); another
// waiter is refused like any producer, and a second large one takes the turn when it is free again
// - the turn is not queued, so two producers both waiting for large records all the time can each
// win it in any order. try_claim() never waits, so never takes the turn. A waiter that gives up
// (keep_waiting() false: the receiver is gone) drops it. The shared rings never take it: a producer
// process killed while holding it would stop every other producer for good.
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
    static constexpr bool has_turn = false;  // one producer: nobody to wait for

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
    static constexpr bool has_turn = true;

    std::atomic<std::uint64_t>* shared;

    [[nodiscard]] std::uint64_t load() const noexcept {
        // Relaxed: a stale value only makes the compare-exchange fail.
        return shared->load(std::memory_order_relaxed);
    }
    [[nodiscard]] bool try_advance(std::uint64_t& from, std::uint64_t to) noexcept {
        // Relaxed: the RMW alone makes the claimed ranges disjoint. No data
        // passes between producers; the zeroed space is acquired from head
        // (ring::has_room) and the payload is released through the header.
        // It compares the whole word, turn_bit included: a producer that read
        // the tail before the turn was taken fails here.
        return shared->compare_exchange_weak(from, to, std::memory_order_relaxed,
                                             std::memory_order_relaxed);
    }
    // Sets turn_bit; true if it was clear (the caller holds the turn now).
    [[nodiscard]] bool take_turn() noexcept {
        // Relaxed: the RMW order on tail alone decides who holds the turn and
        // which compare-exchanges fail; no data passes with it.
        return (shared->fetch_or(turn_bit, std::memory_order_relaxed) & turn_bit) == 0;
    }
    // The holder gives the turn up without claiming.
    void drop_turn() noexcept {
        // Relaxed: as take_turn(). Only the holder clears the bit, and no
        // other producer's compare-exchange succeeds while it is set.
        shared->fetch_and(~turn_bit, std::memory_order_relaxed);
    }
};

// Everything but the common case: wrap padding, a stale cached head, a full
// ring, a lost compare-exchange, bad lengths. Out of line so that the fast
// path below stays a handful of instructions in the caller.
//
// Claim is the claim type to build: write_claim, or the shared ring's claim
// (queue/shared.hpp), constructed as Claim(errc) or Claim(record, len).
// HoldsTurn: the caller holds the turn (claim_waiting); a claim of padding
// alone keeps turn_bit set, the claim of the record clears it.
template <class Claim = write_claim, bool HoldsTurn = false, class Tail>
[[nodiscard, gnu::noinline]] Claim claim_space_slow(const ring& r, Tail tail,
                                                    std::uint64_t& cached_head,
                                                    std::size_t len) noexcept {
    if (r.is_disconnected()) return Claim(errc::disconnected);  // a moved-from producer
    // One compare catches both len == 0 (wraps to SIZE_MAX) and len too large.
    if (len - 1 >= r.max_payload()) return Claim(len == 0 ? errc::zero_length : errc::too_large);

    const std::uint64_t need = record_size(len);
    std::uint64_t word = tail.load();  // the tail, with turn_bit when someone holds the turn
    for (;;) {
        if constexpr (Tail::has_turn && !HoldsTurn) {
            // Another producer waits for space: nobody claims ahead of it.
            if ((word & turn_bit) != 0) return Claim(errc::full);
        }
        const std::uint64_t position = HoldsTurn ? word & ~turn_bit : word;
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
        // Padding alone keeps the turn: the record is still to come.
        const std::uint64_t next = (position + take) | (HoldsTurn && !record_too ? turn_bit : 0);
        if (!tail.try_advance(word, next)) continue;  // lost a race (or spurious): retry
        if (padding != 0) {
            // Release pairs with the consumer's acquire in reader::next_committed().
            header_of(r.at(position)).store(skip_header(padding), std::memory_order_release);
        }
        if (record_too) return Claim(r.at(position + padding), len);
        word = next;
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

// Records of more than this fraction of the ring take the turn when they
// wait. Smaller ones do not: they fit into the space a consumer releases at
// once (drain() publishes every quarter ring), and if they took turns too, a
// large waiter would rarely win the turn from several small ones, whose
// fresh backoff retries sooner than its long one.
inline constexpr std::uint64_t turn_fraction = 8;

// Waits (keep_waiting() calls) with head standing still after which the
// holder gives the turn back, until head moves again. The consumer may need
// other producers' records before it releases the space the holder waits
// for: it may hold read claims and ask for the next record first (a loop
// over recv() that keeps the previous record until it has the next). With
// the turn kept, nothing would ever arrive and nothing be released.
inline constexpr unsigned turn_patience = 4096;

// The claim that waits while the ring is full: between tries it calls
// keep_waiting(), which waits a little and returns false to give up (the
// claim is then empty with errc::full). Other errors come from the first try.
// With the MPSC tail a record of more than 1/turn_fraction of the ring takes
// the turn after the first refusal (see the top of this file), so no other
// producer claims ahead of it from then on - as long as the consumer moves:
// after turn_patience waits without head moving the turn is given back, and
// taken again once head moves.
template <class Claim = write_claim, class Tail, class KeepWaiting>
[[nodiscard]] Claim claim_waiting(const ring& r, Tail tail, std::uint64_t& cached_head,
                                  std::size_t len,
                                  KeepWaiting&& keep_waiting) noexcept(noexcept(keep_waiting())) {
    Claim claim = claim_space<Claim>(r, tail, cached_head, len);
    if (claim.error() != errc::full) return claim;
    if constexpr (Tail::has_turn) {
        // Gives the turn back however we leave without a claim (keep_waiting
        // may throw): a turn left set would stop every other producer.
        struct turn_guard {
            Tail& tail;
            bool held = false;
            ~turn_guard() {
                if (held) tail.drop_turn();
            }
        } turn{tail};
        const bool large = record_size(len) > r.capacity() / turn_fraction;
        std::uint64_t head_seen = 0;
        unsigned still = 0;  // waits since head last moved, while holding the turn
        for (;;) {
            if (large && !turn.held) {
                // Relaxed: only compared with our own earlier load; the space
                // itself is acquired through head in claim_space.
                const std::uint64_t head = r.positions().head.load(std::memory_order_relaxed);
                if (still < turn_patience || head != head_seen) {
                    turn.held = tail.take_turn();
                    head_seen = head;
                    still = 0;
                }
            }
            if (!keep_waiting()) return Claim(errc::full);
            if (turn.held) {
                // Relaxed: as above.
                const std::uint64_t head = r.positions().head.load(std::memory_order_relaxed);
                if (head != head_seen) {
                    head_seen = head;
                    still = 0;
                } else if (++still == turn_patience) {
                    tail.drop_turn();  // the consumer waits for others: let them in
                    turn.held = false;
                }
            }
            claim = turn.held ? claim_space_slow<Claim, true>(r, tail, cached_head, len)
                              : claim_space<Claim>(r, tail, cached_head, len);
            if (claim) {
                turn.held = false;  // the compare-exchange that took the record cleared it
                return claim;
            }  // else errc::full: the only error the first try did not report
        }
    } else {
        while (keep_waiting()) {
            claim = claim_space<Claim>(r, tail, cached_head, len);
            if (claim.error() != errc::full) return claim;
        }
        return Claim(errc::full);
    }
}

}  // namespace logbuf::queue::details
