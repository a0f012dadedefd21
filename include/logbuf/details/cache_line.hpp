// logbuf/details/cache_line.hpp - the one place that says how far apart
// fields written by different threads must be.
#pragma once

#include <cstddef>

namespace logbuf::details {

// One x86-64 / AArch64 cache line.
inline constexpr std::size_t cache_line_size = 64;

// Fields written by different threads are kept this far apart. Two lines, not
// one: Intel's adjacent-line prefetcher pulls cache lines in pairs, so two
// hot fields on neighbouring lines still ping-pong. (We do not use
// std::hardware_destructive_interference_size: GCC warns that its value may
// change between compiler versions, which would change our ABI.)
inline constexpr std::size_t false_sharing_range = 2 * cache_line_size;

}  // namespace logbuf::details
