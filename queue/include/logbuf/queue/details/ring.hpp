// logbuf/queue/details/ring.hpp - the storage both byte rings share, split by
// who writes it:
//
//   ring_positions  the words producers and the consumer share (tail, head),
//                   each on lines of its own, at fixed offsets and with no
//                   pointers inside: it may live in a memory-mapped file.
//   ring            a read-only view: capacity, mask, the buffer and the
//                   positions. Every handle keeps a copy.
//
// The consumer's private cursor is details::reader (reader.hpp). Where the
// positions and the buffer live is the caller's choice: make() puts them, and
// the reader, in one allocation (in_process_ring.hpp); a ring shared between
// processes puts the positions and the buffer in a file.
// The SPSC and MPSC rings differ only in how producers move `tail` (see
// claim_space.hpp); everything the consumer does lives here, once.
#pragma once

#include <logbuf/details/cache_line.hpp>
#include <logbuf/queue/details/record_format.hpp>

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <new>
#include <stdexcept>
#include <type_traits>

namespace logbuf::queue::details {

inline constexpr std::size_t min_capacity = 16;
// The header's high bit is the skip flag, so a skip region - at most the whole
// buffer - must fit in 63 bits; 2^62 is the largest power of two that does.
inline constexpr std::size_t max_capacity = std::size_t{1} << 62;

// Rounds `requested` up to a power of two. Throws std::invalid_argument when
// it is below 16 or above 2^62.
[[nodiscard]] inline std::size_t checked_capacity(std::size_t requested) {
    if (requested < min_capacity)
        throw std::invalid_argument("logbuf: ring capacity must be at least 16 bytes");
    if (requested > max_capacity)
        throw std::invalid_argument("logbuf: ring capacity must be at most 2^62 bytes");
    return std::bit_ceil(requested);
}

// The words producers and the consumer share. A plain struct of atomics at
// fixed offsets, no pointers: all-zero bytes are a valid empty ring, so a
// zero-filled block of a file (128-byte aligned) can be used as one.
struct ring_positions {
    // Next free byte; producers advance it (SPSC: store, MPSC: CAS). In the
    // in-process MPSC ring bit 63 (turn_bit) may be set on top: a producer
    // waiting for space holds the turn (claim_space.hpp).
    alignas(logbuf::details::false_sharing_range) std::atomic<std::uint64_t> tail{0};
    // First byte not yet handed back; only the consumer stores it.
    alignas(logbuf::details::false_sharing_range) std::atomic<std::uint64_t> head{0};
    // Reserved (the turn lives in tail's bit 63 instead); always zero.
    alignas(logbuf::details::false_sharing_range) std::atomic<std::uint64_t> turn{0};
};
// Bit 63 of the MPSC tail word: "a producer waiting for space holds the
// turn". Positions stay below it: 2^63 bytes are 21 years at 13.5 GB/s.
inline constexpr std::uint64_t turn_bit = std::uint64_t{1} << 63;

static_assert(std::is_standard_layout_v<ring_positions>);
static_assert(std::is_trivially_destructible_v<ring_positions>);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(offsetof(ring_positions, tail) == 0);
static_assert(offsetof(ring_positions, head) == logbuf::details::false_sharing_range);
static_assert(offsetof(ring_positions, turn) == 2 * logbuf::details::false_sharing_range);
static_assert(sizeof(ring_positions) == 3 * logbuf::details::false_sharing_range);

// A view of one ring: read-only after construction, so copies of it sit in
// every handle and are shared freely by every thread.
class ring {
  public:
    // `buffer` holds `capacity` bytes (a power of two, 16 to 2^62), 8-byte
    // aligned, in the state `positions` describes (for a new ring: all zero).
    // Neither is owned. Throws std::invalid_argument on a bad capacity.
    ring(ring_positions& positions, std::byte* buffer, std::size_t capacity)
        : capacity_(checked_power_of_two(capacity)),
          mask_(capacity_ - 1),
          buffer_(buffer),
          positions_(&positions) {}

    // The view a moved-from producer holds: capacity 0, so no claim fits
    // (claim_space reports errc::disconnected), and positions nobody writes.
    [[nodiscard]] static ring disconnected() noexcept { return ring(); }
    [[nodiscard]] bool is_disconnected() const noexcept { return capacity_ == 0; }

    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
    [[nodiscard]] std::size_t max_payload() const noexcept { return capacity_ - header_size; }
    [[nodiscard]] std::byte* at(std::uint64_t position) const noexcept {
        return buffer_ + (position & mask_);
    }
    // Bytes from `position` to the end of the buffer.
    [[nodiscard]] std::uint64_t bytes_to_end(std::uint64_t position) const noexcept {
        return capacity_ - (position & mask_);
    }
    [[nodiscard]] ring_positions& positions() const noexcept { return *positions_; }
    [[nodiscard]] std::atomic<std::uint64_t>& tail() const noexcept { return positions_->tail; }

    // ---- producer side -------------------------------------------------

    // True if [position, position + n) is free. `cached_head` is the caller's
    // last view of head; it is reloaded only when it says "no room".
    [[nodiscard]] bool has_room(std::uint64_t& cached_head, std::uint64_t position,
                                std::uint64_t n) const noexcept {
        // Written as "end <= head + capacity", not "end - head <= capacity": an
        // MPSC producer's `position` may be stale and behind head; the
        // compare-exchange that follows rejects it anyway.
        if (position + n <= cached_head + capacity_) return true;
        // Acquire pairs with the consumer's release in reader::publish(): the
        // zeroing of everything before that head happens-before we write into it.
        cached_head = positions_->head.load(std::memory_order_acquire);
        return position + n <= cached_head + capacity_;
    }

  private:
    ring() noexcept : capacity_(0), mask_(0), buffer_(nullptr), positions_(&nobody_s) {}

    static inline ring_positions nobody_s{};

    static std::size_t checked_power_of_two(std::size_t capacity) {
        if (capacity < min_capacity || capacity > max_capacity || !std::has_single_bit(capacity))
            throw std::invalid_argument("logbuf: ring capacity must be a power of two, 16 to 2^62");
        return capacity;
    }

    std::size_t capacity_;
    std::uint64_t mask_;
    std::byte* buffer_;
    ring_positions* positions_;
};

}  // namespace logbuf::queue::details
