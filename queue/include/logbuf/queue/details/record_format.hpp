// logbuf/queue/details/record_format.hpp - the byte ring's record format, written
// down once. Every producer, the consumer, the tests and the fuzzers use these
// definitions and nothing else to read or write a record.
//
//   position p (multiple of 8)
//   +----------------+----------------------------+---------------+
//   | header (8 B)   | payload (len bytes)        | pad to 8 B    |
//   +----------------+----------------------------+---------------+
//   p                p + 8                         p + record_size(len)
//
// The header word, read and written atomically:
//   0                    uncommitted: claimed or free; the consumer stops here
//   high bit clear, != 0 committed record, value = payload length in bytes
//   high bit set         skip region of (value & ~skip_bit) bytes, counting its
//                        own header: wrap padding or an aborted claim
//   bit 62 set           (shared rings only) claimed, not committed yet; holds
//                        the length (shared_walk.hpp); read like 0
//
// Invariant: every byte of the buffer outside [head, tail) is zero, and so is
// every byte of a skip region except its header. The consumer re-establishes
// it by zeroing what it releases; an aborting producer zeroes its own payload.
// Zero is therefore what a header reads until a producer commits there.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace logbuf::queue::details {

using header_word = std::uint64_t;

inline constexpr std::size_t header_size = sizeof(header_word);
inline constexpr std::size_t record_alignment = 8;
inline constexpr header_word uncommitted = 0;
inline constexpr header_word skip_bit = header_word{1} << 63;
// Set only by the shared rings' producers (shared_walk.hpp). No committed
// length has it: max_payload() < 2^62.
inline constexpr header_word claimed_bit = header_word{1} << 62;

// Bytes a payload of `len` bytes occupies after its header.
[[nodiscard]] constexpr std::uint64_t padded_length(std::uint64_t len) noexcept {
    return (len + (record_alignment - 1)) & ~std::uint64_t{record_alignment - 1};
}

// Bytes a whole record (header + payload + padding) occupies.
[[nodiscard]] constexpr std::uint64_t record_size(std::uint64_t len) noexcept {
    return header_size + padded_length(len);
}

[[nodiscard]] constexpr bool is_skip(header_word h) noexcept {
    return (h & skip_bit) != 0;
}

// Header of a skip region that spans `region_bytes` bytes, its header included.
[[nodiscard]] constexpr header_word skip_header(std::uint64_t region_bytes) noexcept {
    return region_bytes | skip_bit;
}

// Bytes a skip region spans, its header included.
[[nodiscard]] constexpr std::uint64_t skip_length(header_word h) noexcept {
    return h & ~skip_bit;
}

// The header at `record`, which must be 8-byte aligned (every record position is).
[[nodiscard]] inline std::atomic_ref<header_word> header_of(std::byte* record) noexcept {
    return std::atomic_ref<header_word>(*reinterpret_cast<header_word*>(record));
}

[[nodiscard]] inline std::byte* payload_of(std::byte* record) noexcept {
    return record + header_size;
}

}  // namespace logbuf::queue::details
