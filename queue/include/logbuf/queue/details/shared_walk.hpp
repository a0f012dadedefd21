// logbuf/queue/details/shared_walk.hpp - reading a shared ring's buffer
// without trusting it: what region starts at a position, every length
// checked against the buffer's end and the claimed range. unblock() and
// recover() walk the ring with it; the consumer's own reads are checked the
// same way by the ring (see ring.hpp).
//
// The shared producer adds one header state to the record format: right
// after its claim it stores `claimed_bit | tag | len`, so that a claim whose
// producer died mid-write still says how long it is. The consumer treats it
// as "not committed yet", like 0. In a ring of capacity 2^k the length takes
// bits 0..k-1 (it is below the capacity) and the tag bits k..61: a number
// the producer changes with every claim, so that a producer that resumes
// after unblock() took its claim cannot mistake a later claim of the same
// length at the same offset for its own (see claimed_header()). A header that is 0 with claimed
// space behind it belongs to a producer that died between taking its space and writing that marker:
// it wrote nothing, so its bytes are zero up to the next record's header.
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

// The header a shared producer stores when it claims `len` bytes in a ring
// of `capacity` bytes; `tag` is any number (only its low 62 - k bits stay).
[[nodiscard]] constexpr header_word claimed_header(std::uint64_t len, std::uint64_t tag,
                                                   std::uint64_t capacity) noexcept {
    const header_word tag_bits = (claimed_bit - 1) & ~(capacity - 1);
    return claimed_bit | ((tag * capacity) & tag_bits) | len;
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
