// logbuf/queue/details/reader.hpp - the consumer's private state and steps,
// the same for both rings: where the next record starts, how far the space
// has been released, and what was last published to the producers.
//
// Several read claims may be out at once. Two cursors make that work:
//
//   released_ <= ... held / released-in-place / skip ... <= next_
//
//   next_      where the next record to hand out starts;
//   released_  the first byte not yet released: every byte before it can go
//              back to the producers (publish() stores it to head).
//
// With no claim out the two are equal and move together. A claim released
// while an older one is still out cannot free its space yet: its record is
// turned into a skip region in place. When the oldest claim is released,
// released_ walks forward over such regions (and over the skip regions
// try_claim passed meanwhile) up to the first record still held.
#pragma once

#include <logbuf/queue/details/record_format.hpp>
#include <logbuf/queue/details/ring.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <type_traits>
#include <utility>

namespace logbuf::queue::details {

// How far the consumer trusts the header words it reads.
//   trusted_headers    in-process rings: only our own producers write them;
//                      the checks compile out.
//   untrusted_headers  a buffer other processes can write: every length is
//                      checked before use, and a header that fails the check
//                      is treated as uncommitted (the consumer stops there).
struct trusted_headers {
    static constexpr bool checked = false;
};
struct untrusted_headers {
    static constexpr bool checked = true;
};

// One thread uses a reader; it must stay at one address while read claims
// refer to it. Trivially destructible (see keep_alive()).
class reader {
  public:
    explicit reader(const ring& r) noexcept
        : ring_(r),
          // Relaxed: the consumer is the only writer of head; for a ring that
          // already has content (a file) its records are acquired through
          // their headers, as always.
          next_(r.positions().head.load(std::memory_order_relaxed)),
          released_(next_),
          published_(next_) {}
    reader(const reader&) = delete;
    reader& operator=(const reader&) = delete;

    [[nodiscard]] const ring& view() const noexcept { return ring_; }
    // Where the next record to hand out starts.
    [[nodiscard]] std::uint64_t read_position() const noexcept { return next_; }
    // Read claims out.
    [[nodiscard]] std::uint64_t claims_out() const noexcept { return out_; }
    // Untrusted headers: from now on take a header only below the tail (see
    // below_tail()). Called once a claim has been taken from its producer.
    void check_tail() noexcept { tail_seen_ = 0; }

    // Header of the next committed record at next_, passing skip regions on
    // the way; `uncommitted` when there is none yet.
    template <class Headers>
    [[nodiscard]] header_word next_committed() noexcept {
        for (;;) {
            // With claims held the consumer can be a whole ring ahead of the
            // released space: the header there is a held record's own.
            if (next_ - released_ == ring_.capacity()) [[unlikely]]
                return uncommitted;
            std::byte* record = ring_.at(next_);
            // Acquire pairs with the producer's release in commit(), abort()
            // or the wrap padding: the payload it wrote is visible below.
            const header_word h = header_of(record).load(std::memory_order_acquire);
            if constexpr (Headers::checked) {
                if (!header_fits(h, ring_.bytes_to_end(next_))) return uncommitted;
                if (h != uncommitted && !below_tail(next_)) return uncommitted;
            }
            if (!is_skip(h)) return h;
            if (next_ == released_) {
                // Nothing older is held: free it now. A skip region's body is
                // already zero (record_format.hpp): clearing its header is all
                // the zeroing it needs.
                header_of(record).store(uncommitted, std::memory_order_relaxed);
                released_ += skip_length(h);
            }  // else it stays as it is: the walk in free_record() passes it
            next_ += skip_length(h);
        }
    }

    // Takes the record next_committed() just returned (`len` bytes) off the
    // ring's front; returns its position. The caller frees it later.
    [[nodiscard]] std::uint64_t take(header_word len) noexcept {
        const std::uint64_t position = next_;
        next_ += record_size(len);
        return position;
    }
    // Gives a record taken with take() back, when nothing else was taken
    // after it (drain() whose handler threw): the next read returns it again.
    [[nodiscard]] bool untake(std::uint64_t position, header_word len) noexcept {
        if (next_ != position + record_size(len)) return false;
        next_ = position;
        return true;
    }

    [[nodiscard]] const std::byte* payload_at(std::uint64_t position) const noexcept {
        return payload_of(ring_.at(position));
    }

    // Zeroes the taken record at `position` (payload and padding, then the
    // header). If it is the oldest unreleased one its space is released (and
    // the space of every released region after it); otherwise it becomes a
    // skip region in place, released with the older records later.
    // Producers see released space after publish().
    void free_record(std::uint64_t position, header_word len) noexcept {
        std::byte* record = ring_.at(position);
        std::memset(payload_of(record), 0, padded_length(len));
        const std::uint64_t end = position + record_size(len);
        if (position == released_ && end == next_) [[likely]] {
            // Nothing held before or after it (always so in drain() with no
            // claim out). Relaxed: the release in publish() orders it before
            // any producer reuse.
            header_of(record).store(uncommitted, std::memory_order_relaxed);
            released_ = end;
            return;
        }
        free_held(record, position, end);
    }

    // ---- read claims ---------------------------------------------------

    void claim_taken() noexcept { ++out_; }
    // Frees a claim's record and hands the space back if it was the oldest.
    void release_claim(std::uint64_t position, header_word len) noexcept {
        free_record(position, len);
        publish();
        if (--out_ == 0 && keeper_) [[unlikely]]
            drop_keep_alive();  // may free *this: nothing touches it after
    }

    // The consumer handle is going away. If claims are still out, `self`
    // (the handle's reference to this reader) is kept here until the last of
    // them is released, so that releasing them never touches freed memory.
    void consumer_gone(std::shared_ptr<reader>&& self) noexcept {
        if (out_ == 0) return;
        keeper_ = ::new (keep_alive_) std::shared_ptr<reader>(std::move(self));
    }

    // ---- drain -------------------------------------------------------

    // consumer.hpp's drain(): up to `max` records through f, each freed after
    // f returns; what is released is published every quarter ring and on
    // the way out (also when f throws: the record it threw on stays).
    template <class Headers, class F>
    std::size_t drain(F& f, std::size_t max) {
        struct publish_on_exit {
            reader& r;
            ~publish_on_exit() { r.publish(); }
        } publish_guard{*this};
        std::size_t count = 0;
        while (count < max) {
            // No claim out: the loop that keeps its cursors in registers.
            if (next_ == released_) [[likely]] {
                if (!drain_unheld<Headers>(f, count, max)) break;
                continue;  // f took read claims: one record at a time until released
            }
            const header_word len = next_committed<Headers>();
            if (len == uncommitted) break;
            // Taken before f runs, so that a try_claim() inside f gets the
            // record after it, not this one again.
            const std::uint64_t position = take(len);
            give_back_on_throw guard{*this, position, len};
            f(std::span<const std::byte>(payload_at(position), static_cast<std::size_t>(len)));
            guard.done = true;
            free_record(position, len);
            if (quarter_released()) publish();
            ++count;
        }
        return count;
    }

    // ---- publishing ----------------------------------------------------

    // Bytes released since the last publish(). drain() publishes every quarter
    // ring, so producers waiting on a full ring need not wait for the whole
    // batch when the handler is slow.
    [[nodiscard]] bool quarter_released() const noexcept {
        return released_ - published_ >= ring_.capacity() / 4;
    }

    // Hands every released byte back to the producers.
    void publish() noexcept {
        if (published_ == released_) return;
        published_ = released_;
        // Release pairs with the producers' acquire in ring::has_room(): our
        // zeroing of the released bytes happens-before they claim them again.
        ring_.positions().head.store(released_, std::memory_order_release);
    }

  private:
    // drain() with nothing held (next_ == released_ on entry and after every
    // record): no lap check, the cursors and the ring's geometry in locals,
    // the quarter-ring limit computed once. next_ is stored before f runs (a
    // try_claim() inside f reads it) and checked after: if f took read
    // claims, the record is freed the general way and drain() goes on one
    // record at a time (returns true). False when nothing more is committed
    // or `max` records were handed out.
    template <class Headers, class F>
    [[nodiscard]] bool drain_unheld(F& f, std::size_t& count, std::size_t max) {
        std::byte* const buffer = ring_.at(0);
        const std::uint64_t mask = ring_.capacity() - 1;
        const std::uint64_t quarter = ring_.capacity() / 4;
        std::uint64_t publish_at = published_ + quarter;
        std::uint64_t position = next_;
        while (count < max) {
            std::byte* const record = buffer + (position & mask);
            // Acquire pairs with the producer's release in commit(), abort()
            // or the wrap padding: the payload it wrote is visible below.
            const header_word h = header_of(record).load(std::memory_order_acquire);
            if constexpr (Headers::checked) {
                if (!header_fits(h, ring_.bytes_to_end(position))) return false;
            }
            if (h == uncommitted) return false;
            if constexpr (Headers::checked) {
                if (!below_tail(position)) return false;
            }
            if (is_skip(h)) {
                // A skip region's body is already zero: clearing its header
                // is all the zeroing it needs. Relaxed: as free_record().
                header_of(record).store(uncommitted, std::memory_order_relaxed);
                position += skip_length(h);
                next_ = released_ = position;
                continue;
            }
            const std::uint64_t end = position + record_size(h);
            next_ = end;
            give_back_on_throw guard{*this, position, h};
            f(std::span<const std::byte>(payload_of(record), static_cast<std::size_t>(h)));
            guard.done = true;
            ++count;
            if (next_ != end) [[unlikely]] {
                free_record(position, h);  // f took claims after it
                if (quarter_released()) publish();
                return true;
            }
            std::memset(payload_of(record), 0, padded_length(h));
            // Relaxed: the release in publish() orders it before any reuse.
            header_of(record).store(uncommitted, std::memory_order_relaxed);
            released_ = end;
            position = end;
            if (end >= publish_at) [[unlikely]] {  // a quarter ring since the last publish
                publish();
                publish_at = end + quarter;
            }
        }
        return false;
    }

    // Gives a record drain() took back if f throws (see untake()).
    struct give_back_on_throw {
        reader& r;
        std::uint64_t position;
        header_word len;
        bool done = false;
        ~give_back_on_throw() {
            if (!done && !r.untake(position, len)) r.free_record(position, len);
        }
    };

    // free_record() with other records taken around it: out of line.
    [[gnu::noinline]] void free_held(std::byte* record, std::uint64_t position,
                                     std::uint64_t end) noexcept {
        if (position != released_) {
            // Older records are still held. Relaxed: only this thread reads
            // it (the walk), and producers cannot reach it before head passes
            // it (release in publish()).
            header_of(record).store(skip_header(end - position), std::memory_order_relaxed);
            return;
        }
        header_of(record).store(uncommitted, std::memory_order_relaxed);
        released_ = end;
        walk();
    }

    // A header is usable only if what it describes lies inside `room` bytes
    // (a multiple of 8, at least 8, at most the capacity): a committed record
    // that fits, or a skip of a non-zero multiple of 8 bytes that fits.
    [[nodiscard]] static bool header_fits(header_word h, std::uint64_t room) noexcept {
        if (is_skip(h)) {
            const std::uint64_t n = skip_length(h);
            return n != 0 && n % record_alignment == 0 && n <= room;
        }
        // One compare: with room - 8 a multiple of 8, padded_length(h) <=
        // room - 8 exactly when h <= room - 8. That also means h <=
        // max_payload(), and a shared producer's claim mark (claimed_bit
        // set) never passes.
        return h <= room - header_size;
    }

    // Untrusted headers only: whether `position` lies before the tail. A
    // header at or past the tail was made by no claim - a producer presumed
    // dead (the shared ring's unblock()) committing or aborting late into
    // free space - and is not a record: taking it would move the consumer
    // past the tail. Off (tail_seen_ at its maximum: one compare that always
    // passes) until check_tail() is called, since only a claim taken from a
    // producer can make such a header; then the tail is reloaded whenever
    // the consumer reaches the value last seen.
    [[nodiscard]] bool below_tail(std::uint64_t position) noexcept {
        if (position < tail_seen_) [[likely]]
            return true;
        // Relaxed: called after the acquire load of the header at `position`.
        // If a claim made that header, its tail CAS happened-before the
        // release we acquired, so this load returns a tail past it. Untrusted
        // like every word of the file; a wrong value costs only that check.
        tail_seen_ = ring_.positions().tail.load(std::memory_order_relaxed) & ~turn_bit;
        return position < tail_seen_;
    }

    // Moves released_ over skip regions up to the first record still held
    // (or next_). Each header was written by this thread or acquired by
    // next_committed() already; it is checked anyway (a ring in shared memory
    // may have been changed since): a region that does not fit before next_
    // stops the walk, so released_ never passes a held record's start.
    void walk() noexcept {
        while (released_ != next_) {
            std::byte* record = ring_.at(released_);
            const header_word h = header_of(record).load(std::memory_order_relaxed);
            const std::uint64_t room = std::min(next_ - released_, ring_.bytes_to_end(released_));
            if (!is_skip(h) || !header_fits(h, room)) return;  // a record still held
            header_of(record).store(uncommitted, std::memory_order_relaxed);
            released_ += skip_length(h);
        }
    }

    void drop_keep_alive() noexcept {
        std::shared_ptr<reader> last = std::move(*keeper_);
        std::destroy_at(keeper_);
        keeper_ = nullptr;
    }  // `last` may free this reader here

    const ring ring_;
    std::uint64_t next_;       // where the next record to hand out starts
    std::uint64_t released_;   // first byte not yet released
    std::uint64_t published_;  // the last value stored to head
    std::uint64_t out_ = 0;    // read claims out
    // Untrusted headers: the tail last read (below_tail()); no check until
    // check_tail().
    std::uint64_t tail_seen_ = ~std::uint64_t{0};
    // Raw storage, so that the reader stays trivially destructible (make()
    // frees its allocation as bytes): holds a reference only while claims
    // outlive the consumer, and that reference is what keeps the storage alive.
    std::shared_ptr<reader>* keeper_ = nullptr;
    alignas(std::shared_ptr<reader>) unsigned char keep_alive_[sizeof(std::shared_ptr<reader>)];
};
static_assert(std::is_trivially_destructible_v<reader>);

}  // namespace logbuf::queue::details
