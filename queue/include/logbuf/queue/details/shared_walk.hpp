// logbuf/queue/details/shared_walk.hpp - reading a shared ring's buffer
// without trusting it: what region starts at a position, every length
// checked against the buffer's end and the claimed range. unblock() and
// recover() walk the ring with it; the consumer's own reads are checked the
// same way by the ring (see ring.hpp).
//
// The shared producer adds one header state to the record format: right
// after its claim it stores `claimed_bit | len` (mark_claimed()), so that a
// claim whose producer died mid-write still says how long it is. The
// consumer treats it as "not committed yet", like 0. The length takes the
// bits below the capacity; the bits between it and claimed_bit are zero
// (files written by earlier builds held a tag there: classify_region()
// masks them off, so such files still read). A header that is 0 with
// claimed space behind it belongs to a producer that died between taking
// its space and writing that mark: it wrote nothing, so its bytes are zero
// up to the next record's header.
#pragma once

#include <logbuf/queue/details/record_format.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace logbuf::queue::details {

enum class region_kind {
    record,     // committed: `length` payload bytes
    skip,       // wrap padding, an aborted or unblocked claim
    claimed,    // claimed, not committed yet: `length` payload bytes
    unwritten,  // header 0: claimed by a producer that wrote nothing (or free)
    corrupt,    // a header no producer writes: the rest up to `limit`
};

// The header a shared producer stores when it claims `len` bytes.
[[nodiscard]] constexpr header_word claimed_header(std::uint64_t len) noexcept {
    return claimed_bit | len;
}

// Marks the claim whose header is at `record` as claimed, `len` bytes. Relaxed: unblock() and
// recover() rely on the mark only after this producer stalled for the unblock timeout or died; the
// commit's release store replaces it. The fence keeps the payload stores
// after the mark (no instruction on x86-64, where stores stay in order; it
// stops the compiler moving them): a header still 0 means no payload byte
// was written.
inline void mark_claimed(std::byte* record, std::uint64_t len) noexcept {
    header_of(record).store(claimed_header(len), std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
}

struct region {
    region_kind kind;
    std::uint64_t bytes;   // what the region spans, its header included; >= 8
    std::uint64_t length;  // payload bytes (record, claimed)
    header_word header;    // the word read
};

// The region at `record` (8-byte aligned), which may span at most `limit`
// bytes (limit >= 8: the bytes to the end of the buffer, and to the end of
// the claimed range if that comes first). Reads the header with acquire
// (pairs with the producers' release commits, aborts and padding) and, for
// an unwritten header, the words after it up to the first non-zero one.
[[nodiscard]] inline region classify_region(std::byte* record, std::uint64_t limit,
                                            std::uint64_t max_payload) noexcept {
    const header_word h = header_of(record).load(std::memory_order_acquire);
    if (h == uncommitted) {
        std::uint64_t n = header_size;
        while (n < limit && header_of(record + n).load(std::memory_order_relaxed) == 0)
            n += header_size;
        return {region_kind::unwritten, n, 0, h};
    }
    if (is_skip(h)) {
        const std::uint64_t n = skip_length(h);
        if (n >= header_size && n % record_alignment == 0 && n <= limit)
            return {region_kind::skip, n, 0, h};
        return {region_kind::corrupt, limit, 0, h};
    }
    const bool claimed = (h & claimed_bit) != 0;
    // max_payload + 8 is the capacity: a claimed header's length is below it.
    const std::uint64_t len = claimed ? h & (max_payload + header_size - 1) : h;
    if (len != 0 && len <= max_payload && record_size(len) <= limit)
        return {claimed ? region_kind::claimed : region_kind::record, record_size(len), len, h};
    return {region_kind::corrupt, limit, 0, h};
}

}  // namespace logbuf::queue::details
