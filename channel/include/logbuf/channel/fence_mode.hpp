// logbuf/channel/fence_mode.hpp - how a channel pays for the StoreLoad
// barrier between its senders' notify() and its receiver's park (see
// details/parker.hpp for the protocol).
#pragma once

#include <cstdint>

namespace logbuf::channel {

// How a channel's senders and its parking receiver pay for the StoreLoad
// barrier that keeps wake-ups from being lost. Chosen per channel at make().
enum class fence_mode : std::uint8_t {
    // notify(): a compiler barrier and one load. Each park: membarrier(), which
    // interrupts every running thread of the process (an IPI). The default:
    // for senders that notify() after every record and a receiver that parks
    // only when traffic stops.
    membarrier,
    // notify(): a seq_cst fence and one load. Each park: a seq_cst fence, no
    // IPI. For senders that rarely notify() and a receiver that parks often,
    // e.g. one that polls on a short timeout while idle (the spdlog backend):
    // there membarrier would interrupt the hot threads on every idle park.
    fences,
};

}  // namespace logbuf::channel
