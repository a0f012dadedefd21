// logbuf/channel/parking_stats.hpp - what a receiver reports about its sleeps
// in the kernel (receiver::parking()).
#pragma once

#include <chrono>
#include <cstdint>

namespace logbuf::channel {

// How much a receiver slept in the kernel: each park is one futex wait that
// ended by a notify(), a park timeout, or a spurious wake-up.
struct parking_stats {
    std::uint64_t parks = 0;
    std::chrono::nanoseconds slept{0};
};

}  // namespace logbuf::channel
