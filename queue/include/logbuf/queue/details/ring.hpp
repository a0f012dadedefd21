// logbuf/queue/details/ring.hpp - the storage both byte rings share: one flat
// zeroed buffer, the free-running head and tail positions, and the consumer's
// cursor. The SPSC and MPSC rings differ only in how producers move `tail`
// (see claim_space.hpp); everything the consumer does lives here, once.
#pragma once

#include <logbuf/details/cache_line.hpp>
#include <logbuf/queue/details/record_format.hpp>

#include <atomic>
#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <stdexcept>

namespace logbuf::queue::details {

inline constexpr std::size_t min_capacity = 16;
// The header's high bit is the skip flag, so a skip region - at most the whole
// buffer - must fit in 63 bits; 2^62 is the largest power of two that does.
inline constexpr std::size_t max_capacity = std::size_t{1} << 62;

class ring {
  public:
    // Rounds `requested` up to a power of two. Throws std::invalid_argument
    // when it is below 16 or above 2^62, std::bad_alloc when memory is short.
    explicit ring(std::size_t requested)
        : capacity_(checked_capacity(requested)),
          mask_(capacity_ - 1),
          buffer_(static_cast<std::byte*>(
              ::operator new (capacity_, std::align_val_t{logbuf::details::cache_line_size}))) {
        // Zero is "uncommitted"; this also touches every page once, so the
        // first lap does not take page faults on the producer's hot path.
        std::memset(buffer_, 0, capacity_);
    }
    ~ring() { ::operator delete (buffer_, std::align_val_t{logbuf::details::cache_line_size}); }
    ring(const ring&) = delete;
    ring& operator=(const ring&) = delete;

    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
    [[nodiscard]] std::size_t max_payload() const noexcept { return capacity_ - header_size; }
    [[nodiscard]] std::byte* at(std::uint64_t position) const noexcept {
        return buffer_ + (position & mask_);
    }
    // Bytes from `position` to the end of the buffer.
    [[nodiscard]] std::uint64_t bytes_to_end(std::uint64_t position) const noexcept {
        return capacity_ - (position & mask_);
    }

    // ---- producer side -------------------------------------------------

    // True if [position, position + n) is free. `cached_head` is the caller's
    // last view of head; it is reloaded only when it says "no room".
    [[nodiscard]] bool has_room(std::uint64_t& cached_head, std::uint64_t position,
                                std::uint64_t n) const noexcept {
        // Written as "end <= head + capacity", not "end - head <= capacity": an
        // MPSC producer's `position` may be stale and behind head; the
        // compare-exchange that follows rejects it anyway.
        if (position + n <= cached_head + capacity_) return true;
        // Acquire pairs with the consumer's release in publish(): the zeroing
        // of everything before that head happens-before we write into it.
        cached_head = head_.load(std::memory_order_acquire);
        return position + n <= cached_head + capacity_;
    }

    std::atomic<std::uint64_t>& tail() noexcept { return tail_; }

    // ---- consumer side (one thread) ------------------------------------

    // Header of the next committed record at the read position, passing (and
    // zeroing) skip regions on the way; `uncommitted` when there is none yet.
    [[nodiscard]] header_word next_committed() noexcept {
        for (;;) {
            std::byte* record = at(read_position_);
            // Acquire pairs with the producer's release in commit(), abort()
            // or the wrap padding: the payload it wrote is visible below.
            const header_word h = header_of(record).load(std::memory_order_acquire);
            if (!is_skip(h)) return h;
            // A skip region's body is already zero (record.hpp): clearing its
            // header is all the zeroing it needs.
            header_of(record).store(uncommitted, std::memory_order_relaxed);
            read_position_ += skip_length(h);
        }
    }

    // The payload of the record next_committed() just returned.
    [[nodiscard]] const std::byte* read_payload() const noexcept {
        return payload_of(at(read_position_));
    }

    // Zeroes the record at the read position (payload and padding, then the
    // header) and moves past it. Producers see the space after publish().
    void consume(header_word len) noexcept {
        std::byte* record = at(read_position_);
        std::memset(payload_of(record), 0, padded_length(len));
        // Relaxed: the release in publish() orders it before any producer reuse.
        header_of(record).store(uncommitted, std::memory_order_relaxed);
        read_position_ += record_size(len);
    }

    // Bytes released since the last publish(). drain() publishes every quarter
    // ring, so producers waiting on a full ring need not wait for the whole
    // batch when the handler is slow.
    [[nodiscard]] bool quarter_released() const noexcept {
        return read_position_ - published_ >= capacity_ / 4;
    }

    // Hands every byte before the read position back to the producers.
    void publish() noexcept {
        if (published_ == read_position_) return;
        published_ = read_position_;
        // Release pairs with the producers' acquire in has_room(): our zeroing
        // of the released bytes happens-before they claim them again.
        head_.store(read_position_, std::memory_order_release);
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
    static std::size_t checked_capacity(std::size_t requested) {
        if (requested < min_capacity)
            throw std::invalid_argument("logbuf: ring capacity must be at least 16 bytes");
        if (requested > max_capacity)
            throw std::invalid_argument("logbuf: ring capacity must be at most 2^62 bytes");
        return std::bit_ceil(requested);
    }

    // Read-only after construction: shared freely by every thread.
    const std::size_t capacity_;
    const std::uint64_t mask_;
    std::byte* const buffer_;

    // Next free byte; producers advance it (SPSC: store, MPSC: CAS).
    alignas(logbuf::details::false_sharing_range) std::atomic<std::uint64_t> tail_{0};

    // First byte not yet handed back; only the consumer stores it.
    alignas(logbuf::details::false_sharing_range) std::atomic<std::uint64_t> head_{0};

    // The consumer's own cursor: where the next record starts, and the last
    // value stored to head_. Only the consumer thread touches these.
    alignas(logbuf::details::false_sharing_range) std::uint64_t read_position_ = 0;
    std::uint64_t published_ = 0;
    bool claim_outstanding_ = false;
};

}  // namespace logbuf::queue::details
