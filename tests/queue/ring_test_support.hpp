// Helpers shared by the byte-ring tests: the two ring flavours as a typed-test
// parameter, and a self-checking record pattern.
#pragma once

#include <logbuf/queue/mpsc.hpp>
#include <logbuf/queue/spsc.hpp>

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace logbuf_test {

struct spsc_ring {
    static auto make(std::size_t capacity) { return logbuf::queue::spsc::make(capacity); }
};
struct mpsc_ring {
    static auto make(std::size_t capacity) { return logbuf::queue::mpsc::make(capacity); }
};
using ring_flavours = ::testing::Types<spsc_ring, mpsc_ring>;

// Sanitizers slow threads down 5-20x; stress counts shrink with them.
#if defined(LOGBUF_UNDER_TSAN) || defined(__SANITIZE_ADDRESS__)
inline constexpr std::uint64_t sanitizer_divisor = 8;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr std::uint64_t sanitizer_divisor = 8;
#else
inline constexpr std::uint64_t sanitizer_divisor = 1;
#endif
#else
inline constexpr std::uint64_t sanitizer_divisor = 1;
#endif

// A record's bytes are a function of (source, sequence, length), so any byte
// out of place - torn, stale, zeroed too early, from another record - shows.
inline std::byte pattern_byte(std::uint32_t source, std::uint64_t sequence, std::size_t i) {
    return static_cast<std::byte>((sequence * 131u + i * 7u + source * 29u + (i >> 8)) & 0xffu);
}

// Records carry [source:4][sequence:8] then pattern bytes, when long enough
// for the stamp; shorter ones are pure pattern of a caller-known identity.
inline constexpr std::size_t stamp_size = 12;

inline void fill_record(std::span<std::byte> out, std::uint32_t source, std::uint64_t sequence) {
    std::size_t i = 0;
    if (out.size() >= stamp_size) {
        std::memcpy(out.data(), &source, 4);
        std::memcpy(out.data() + 4, &sequence, 8);
        i = stamp_size;
    }
    for (; i < out.size(); ++i)
        out[i] = pattern_byte(source, sequence, i);
}

// True if `in` is exactly what fill_record(source, sequence) wrote.
inline bool record_matches(std::span<const std::byte> in, std::uint32_t source,
                           std::uint64_t sequence) {
    std::size_t i = 0;
    if (in.size() >= stamp_size) {
        std::uint32_t s = 0;
        std::uint64_t q = 0;
        std::memcpy(&s, in.data(), 4);
        std::memcpy(&q, in.data() + 4, 8);
        if (s != source || q != sequence) return false;
        i = stamp_size;
    }
    for (; i < in.size(); ++i)
        if (in[i] != pattern_byte(source, sequence, i)) return false;
    return true;
}

inline bool all_zero(std::span<const std::byte> bytes) {
    for (std::byte b : bytes)
        if (b != std::byte{0}) return false;
    return true;
}

}  // namespace logbuf_test
