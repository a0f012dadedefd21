// logbuf/log/logger_options.hpp - what a logbuf::log::logger can be told.
// Every field has a default, so `logger_options{}` works; make_logger()
// throws std::invalid_argument for values it cannot use.
#pragma once

#include <logbuf/spdlog/async_options.hpp>  // logbuf::overflow_policy

#include <spdlog/common.h>

#include <cstddef>

namespace logbuf::log {

struct logger_options {
    // Bytes of the ring each logging thread writes into (rounded up to a
    // power of two, at least min_ring_capacity). A thread has one ring for
    // every logger it logs through; it is made at the thread's first call
    // and, if a later logger asks for more, replaced once by a larger one.
    // A record is 48 bytes plus the arguments (a string costs 4 + its
    // length), rounded up to 8; one record is at most a quarter of the ring
    // (longer strings are cut, with a marker). Zero is an error.
    std::size_t ring_capacity = std::size_t{1} << 20;

    // What a call does when its thread's ring is full: block (the default:
    // spin, then yield, until the backend makes room; nothing is lost) or
    // drop (return at once; the logger counts it in dropped() and the
    // backend writes a warning line with the count).
    overflow_policy overflow = overflow_policy::block;

    // Calls below this level return at once (one relaxed load).
    spdlog::level::level_enum level = spdlog::level::info;
};

// The smallest ring a thread gets; smaller requests are rounded up to it.
inline constexpr std::size_t min_ring_capacity = 4096;

}  // namespace logbuf::log
