// logbuf/queue/details/ring.hpp - the storage both byte rings share, split by
// who writes it:
//
//   ring_positions  the words producers and the consumer share (tail, head),
//                   each on lines of its own, at fixed offsets and with no
//                   pointers inside: it may live in a memory-mapped file.
//   ring            a read-only view: capacity, mask, the buffer and the
//                   positions. Every handle keeps a copy.
//   reader          the consumer's private cursor and its steps (one thread).
//
// Where the positions and the buffer live is the caller's choice: make()
// puts them, and the reader, in one allocation (in_process_ring below); a
// ring shared between processes puts the positions and the buffer in a file.
// The SPSC and MPSC rings differ only in how producers move `tail` (see
// claim_space.hpp); everything the consumer does lives here, once.
#pragma once

#include <logbuf/details/cache_line.hpp>
#include <logbuf/queue/details/record_format.hpp>

#include <atomic>
#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
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
    // Next free byte; producers advance it (SPSC: store, MPSC: CAS).
    alignas(logbuf::details::false_sharing_range) std::atomic<std::uint64_t> tail{0};
    // First byte not yet handed back; only the consumer stores it.
    alignas(logbuf::details::false_sharing_range) std::atomic<std::uint64_t> head{0};
    // Reserved for the MPSC ring's large-claim turn (written rarely, by
    // producers); zero otherwise.
    alignas(logbuf::details::false_sharing_range) std::atomic<std::uint64_t> turn{0};
};
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

// The consumer's private state: where the next record starts and the last
// head it published. One thread uses it; it must stay at one address while
// read claims refer to it.
class reader {
  public:
    explicit reader(const ring& r) noexcept
        : ring_(r),
          // Relaxed: the consumer is the only writer of head; for a ring that
          // already has content (a file) its records are acquired through
          // their headers, as always.
          read_position_(r.positions().head.load(std::memory_order_relaxed)),
          published_(read_position_) {}
    reader(const reader&) = delete;
    reader& operator=(const reader&) = delete;

    [[nodiscard]] const ring& view() const noexcept { return ring_; }
    // Where the next record starts.
    [[nodiscard]] std::uint64_t read_position() const noexcept { return read_position_; }

    // Header of the next committed record at the read position, passing (and
    // zeroing) skip regions on the way; `uncommitted` when there is none yet.
    template <class Headers>
    [[nodiscard]] header_word next_committed() noexcept {
        for (;;) {
            std::byte* record = ring_.at(read_position_);
            // Acquire pairs with the producer's release in commit(), abort()
            // or the wrap padding: the payload it wrote is visible below.
            const header_word h = header_of(record).load(std::memory_order_acquire);
            if constexpr (Headers::checked) {
                if (!header_fits(h)) return uncommitted;
            }
            if (!is_skip(h)) return h;
            // A skip region's body is already zero (record_format.hpp):
            // clearing its header is all the zeroing it needs.
            header_of(record).store(uncommitted, std::memory_order_relaxed);
            read_position_ += skip_length(h);
        }
    }

    // The payload of the record next_committed() just returned.
    [[nodiscard]] const std::byte* read_payload() const noexcept {
        return payload_of(ring_.at(read_position_));
    }

    // Zeroes the record at the read position (payload and padding, then the
    // header) and moves past it. Producers see the space after publish().
    void consume(header_word len) noexcept {
        std::byte* record = ring_.at(read_position_);
        std::memset(payload_of(record), 0, padded_length(len));
        // Relaxed: the release in publish() orders it before any producer reuse.
        header_of(record).store(uncommitted, std::memory_order_relaxed);
        read_position_ += record_size(len);
    }

    // Bytes released since the last publish(). drain() publishes every quarter
    // ring, so producers waiting on a full ring need not wait for the whole
    // batch when the handler is slow.
    [[nodiscard]] bool quarter_released() const noexcept {
        return read_position_ - published_ >= ring_.capacity() / 4;
    }

    // Hands every byte before the read position back to the producers.
    void publish() noexcept {
        if (published_ == read_position_) return;
        published_ = read_position_;
        // Release pairs with the producers' acquire in ring::has_room(): our
        // zeroing of the released bytes happens-before they claim them again.
        ring_.positions().head.store(read_position_, std::memory_order_release);
    }

    // Debug builds track whether a read_claim is out (the consumer hands out
    // one at a time) to assert on misuse; release builds skip the writes. The
    // member exists in both so that the layout does not depend on NDEBUG.
    [[nodiscard]] bool claim_outstanding() const noexcept { return claim_outstanding_; }
    void set_claim_outstanding([[maybe_unused]] bool out) noexcept {
#ifndef NDEBUG
        claim_outstanding_ = out;
#endif
    }

  private:
    // An untrusted header is usable only if what it describes lies inside
    // the buffer: a committed length of at most max_payload() whose record
    // ends before the end of the buffer, or a skip of a non-zero multiple of
    // 8 bytes that ends there too.
    [[nodiscard]] bool header_fits(header_word h) const noexcept {
        const std::uint64_t room = ring_.bytes_to_end(read_position_);
        if (is_skip(h)) {
            const std::uint64_t n = skip_length(h);
            return n != 0 && n % record_alignment == 0 && n <= room;
        }
        return h <= ring_.max_payload() && record_size(h) <= room;
    }

    const ring ring_;
    std::uint64_t read_position_;  // where the next record starts
    std::uint64_t published_;      // the last value stored to head
    bool claim_outstanding_ = false;
};

// What make() allocates, in one piece: the shared positions, the reader on
// lines of its own, then the buffer. Freed as bytes, so everything in it is
// trivially destructible.
struct alignas(logbuf::details::false_sharing_range) in_process_ring {
    ring_positions positions;
    alignas(logbuf::details::false_sharing_range) reader consumer;

    in_process_ring(std::byte* buffer, std::size_t capacity)
        : consumer(ring(positions, buffer, capacity)) {}

    // Allocates a zeroed ring of at least `requested` bytes. The returned
    // pointer owns the allocation; its buffer follows the struct.
    [[nodiscard]] static std::shared_ptr<in_process_ring> make(std::size_t requested) {
        const std::size_t capacity = checked_capacity(requested);
        constexpr std::size_t align = alignof(in_process_ring);
        const std::size_t bytes = align - 1 + sizeof(in_process_ring) + capacity;
        if (bytes < capacity) throw std::bad_alloc();
        // Value-initialised: zero is "uncommitted", and zeroing touches every
        // page once, so the first lap takes no page faults on the hot path.
        std::shared_ptr<std::byte[]> storage = std::make_shared<std::byte[]>(bytes);
        void* start = storage.get();
        std::size_t space = bytes;
        start = std::align(align, sizeof(in_process_ring) + capacity, start, space);
        auto* block = ::new (start)
            in_process_ring(static_cast<std::byte*>(start) + sizeof(in_process_ring), capacity);
        return std::shared_ptr<in_process_ring>(std::move(storage), block);
    }
};
static_assert(std::is_trivially_destructible_v<in_process_ring>);

}  // namespace logbuf::queue::details
