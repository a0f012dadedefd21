// logbuf/log/details/record_header.hpp - the front end's record: what one
// log call writes into its thread's ring. The ring adds its own 8-byte
// length word in front and pads to 8 (queue/details/record_format.hpp).
//
//   offset size  field
//    0      8    decode       the call site's decoder (args.hpp), chosen at
//                             compile time from the argument types
//    8      8    time         ticks() at the call (ticks.hpp)
//   16      8    owner        the logger (kept alive until its records are written)
//   24      8    format       the format string's characters (static storage:
//                             fmt's compile-time check admits only constants)
//   32      4    format size
//   36      1    level        spdlog::level::level_enum
//   37      3    0
//   40      8    source       a static spdlog::source_loc (LOGBUF_* macros), or null
//   48      ..   arguments    args.hpp
//
// The bytes never leave the process; fields are native.
#pragma once

#include <logbuf/log/details/args.hpp>

#include <spdlog/common.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace logbuf::log {
class logger;
}

namespace logbuf::log::details {

struct record_header {
    decode_fn decode;
    std::uint64_t time;
    const logger* owner;
    const char* format;
    std::uint32_t format_size;
    std::uint8_t level;
    std::uint8_t unused[3];
    const spdlog::source_loc* source;
};
static_assert(sizeof(record_header) == 48 && std::is_trivially_copyable_v<record_header>);

inline constexpr std::size_t header_size = sizeof(record_header);

}  // namespace logbuf::log::details
