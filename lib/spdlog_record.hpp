// lib/spdlog_record.hpp - the spdlog backend's record layout, written down
// once: how a log call packs one spdlog::details::log_msg into one ring
// record's payload, and how the backend thread unpacks it. Nothing else
// reads or writes these bytes.
//
// A record's payload starts 8-byte aligned (the ring guarantees it). Fields
// are native-endian; the bytes never leave the process.
//
//   message record
//   offset size  field
//    0      1    kind = 1 (message)
//    1      1    level             spdlog::level::level_enum
//    2      1    flags             bit 0: flush the sinks after this message
//                                  (the logger's flush_on() level was reached)
//    3      1    0
//    4      4    source line       int32
//    8      8    time              log_clock ticks (ns) since its epoch (int64);
//                                  the backend merges every ring on it
//   16      8    thread id         the caller's, as spdlog took it (uint64)
//   24      8    source file       const char*, not copied (see below)
//   32      8    source function   const char*, not copied
//   40      8    logger            async_logger*: the logger that made it (a
//                                  ring serves a logger and its clones); alive
//                                  until its retire record is written
//   48      4    name length n     uint32; 0 = the logger's own name
//   52      n    logger name       only when it is not the logger's own
//   52+n   rest  message text      formatted by spdlog; when the record would
//                                  not fit, cut (at a UTF-8 boundary) and
//                                  ended by "...[truncated N bytes]"
//
//   flush request (kind 2) / retire (kind 3: the logger's last record)
//    0      1    kind
//    1      7    0
//    8      8    time              as above
//   16      8    logger            async_logger*
//   24      8    waiter            waiter*: completed by the backend (may be null)
//
// The file and function names are stored as pointers, as spdlog's own async
// logger does: SPDLOG_LOGGER_* macros pass string literals, so 16 bytes stand
// for two strings that are never measured or copied on the hot path. The
// logger name is the logger's own in every record spdlog::logger makes, so
// it costs nothing either; any other name travels inline.
#pragma once

#include <spdlog/common.h>
#include <spdlog/details/log_msg.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace logbuf {
class async_logger;
}

namespace logbuf::details {

// A flush() or a destructor waiting for its record: shared by the record and
// the waiting thread, freed by whichever lets go second. The backend
// completes it (state done); a waiter that gives up marks it abandoned, and
// the backend then reports the give-up through the logger's error handler.
struct waiter {
    static constexpr int pending = 0, done = 1, abandoned = 2;
    std::atomic<int> state{pending};
    std::atomic<int> refs{2};
    void release() noexcept {
        // acq_rel: the last one out sees the other's writes before delete.
        if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }
};

}  // namespace logbuf::details

namespace logbuf::details::record {

enum class kind : std::uint8_t { message = 1, flush = 2, retire = 3 };

inline constexpr std::uint8_t flush_after_flag = 1;

// Field offsets (see the table above).
inline constexpr std::size_t kind_at = 0;
inline constexpr std::size_t level_at = 1;
inline constexpr std::size_t flags_at = 2;
inline constexpr std::size_t line_at = 4;
inline constexpr std::size_t time_at = 8;
inline constexpr std::size_t thread_at = 16;
inline constexpr std::size_t file_at = 24;
inline constexpr std::size_t function_at = 32;
inline constexpr std::size_t logger_at = 40;
inline constexpr std::size_t name_length_at = 48;
inline constexpr std::size_t message_header = 52;  // name, then text, start here

inline constexpr std::size_t control_logger_at = 16;
inline constexpr std::size_t waiter_at = 24;
inline constexpr std::size_t control_size = 32;

// Longest logger name carried inline; a longer one is cut. (A name only
// travels inline in records spdlog::logger itself never makes.)
inline constexpr std::size_t max_inline_name = 64;

inline constexpr std::string_view truncation_open = "...[truncated ";
inline constexpr std::string_view truncation_close = " bytes]";
// Room reserved for the marker: the widest count a size_t can print.
inline constexpr std::size_t truncation_reserve =
    truncation_open.size() + 20 + truncation_close.size();

// The smallest ring payload that can hold a message record: a maximal inline
// name, the marker, and a few bytes of text.
inline constexpr std::size_t min_record_payload =
    message_header + max_inline_name + truncation_reserve + 64;

// Fixed-width fields are copied, not cast: no alignment or aliasing
// assumptions, and a plain mov either way.
template <class T>
inline void put(std::byte* record, std::size_t at, T value) noexcept {
    std::memcpy(record + at, &value, sizeof value);
}

template <class T>
[[nodiscard]] inline T get(const std::byte* record, std::size_t at) noexcept {
    T value;
    std::memcpy(&value, record + at, sizeof value);
    return value;
}

// How one message will be laid out: computed before the claim (the claim
// needs the size), applied by encode_message() after it.
struct message_plan {
    std::size_t size = 0;       // payload bytes to claim
    std::string_view name;      // inline logger name; empty for the logger's own
    std::size_t text_kept = 0;  // message bytes copied
    std::size_t text_cut = 0;   // message bytes cut off (0: the whole text fits)
};

// Plans `msg` for a ring whose records hold at most `max_payload` bytes.
// `own_name` is the logger's name, which records do not carry.
// Requires max_payload >= min_record_payload.
[[nodiscard]] inline message_plan plan_message(const spdlog::details::log_msg& msg,
                                               std::string_view own_name,
                                               std::size_t max_payload) noexcept {
    message_plan plan;
    const std::string_view name(msg.logger_name.data(), msg.logger_name.size());
    // Same pointer first: every record spdlog::logger makes points at its name_.
    if (name.data() != own_name.data() && name != own_name)
        plan.name = name.substr(0, max_inline_name);
    const std::size_t text = msg.payload.size();
    const std::size_t room = max_payload - message_header - plan.name.size();
    if (text <= room) [[likely]] {
        plan.text_kept = text;
    } else {
        std::size_t keep = room - truncation_reserve;
        // Back up over UTF-8 continuation bytes (10xxxxxx) so the cut never
        // splits a character; at most 3 of them precede a lead byte.
        const char* p = msg.payload.data();
        for (int i = 0; i < 3 && keep > 0 && (static_cast<unsigned char>(p[keep]) & 0xC0u) == 0x80u;
             ++i)
            --keep;
        plan.text_kept = keep;
        plan.text_cut = text - keep;
    }
    plan.size = message_header + plan.name.size() + plan.text_kept;
    if (plan.text_cut != 0) {
        char digits[24];
        const auto end = std::to_chars(digits, digits + sizeof digits, plan.text_cut).ptr;
        plan.size += truncation_open.size() + static_cast<std::size_t>(end - digits) +
                     truncation_close.size();
    }
    return plan;
}

// Writes `msg` as planned into `record` (plan.size bytes, 8-byte aligned).
inline void encode_message(std::byte* record, const message_plan& plan,
                           const spdlog::details::log_msg& msg, async_logger* from,
                           bool flush_after) noexcept {
    put<std::uint8_t>(record, kind_at, static_cast<std::uint8_t>(kind::message));
    put<std::uint8_t>(record, level_at, static_cast<std::uint8_t>(msg.level));
    put<std::uint8_t>(record, flags_at, flush_after ? flush_after_flag : std::uint8_t{0});
    put<std::uint8_t>(record, flags_at + 1, 0);
    put<std::int32_t>(record, line_at, static_cast<std::int32_t>(msg.source.line));
    put<std::int64_t>(record, time_at,
                      static_cast<std::int64_t>(msg.time.time_since_epoch().count()));
    put<std::uint64_t>(record, thread_at, static_cast<std::uint64_t>(msg.thread_id));
    put<const char*>(record, file_at, msg.source.filename);
    put<const char*>(record, function_at, msg.source.funcname);
    put<async_logger*>(record, logger_at, from);
    put<std::uint32_t>(record, name_length_at, static_cast<std::uint32_t>(plan.name.size()));
    std::byte* out = record + message_header;
    if (!plan.name.empty()) {
        std::memcpy(out, plan.name.data(), plan.name.size());
        out += plan.name.size();
    }
    // memcpy of zero bytes from a null pointer is undefined: an empty payload
    // may well have one.
    if (plan.text_kept != 0) std::memcpy(out, msg.payload.data(), plan.text_kept);
    out += plan.text_kept;
    if (plan.text_cut != 0) [[unlikely]] {
        std::memcpy(out, truncation_open.data(), truncation_open.size());
        out += truncation_open.size();
        char digits[24];
        const auto end = std::to_chars(digits, digits + sizeof digits, plan.text_cut).ptr;
        const auto n = static_cast<std::size_t>(end - digits);
        std::memcpy(out, digits, n);
        out += n;
        std::memcpy(out, truncation_close.data(), truncation_close.size());
    }
}

// A flush request or a retire record (control_size bytes).
inline void encode_control(std::byte* record, kind k, std::int64_t time, async_logger* from,
                           waiter* w) noexcept {
    std::memset(record, 0, control_size);
    put<std::uint8_t>(record, kind_at, static_cast<std::uint8_t>(k));
    put<std::int64_t>(record, time_at, time);
    put<async_logger*>(record, control_logger_at, from);
    put<waiter*>(record, waiter_at, w);
}

[[nodiscard]] inline kind kind_of(const std::byte* record) noexcept {
    return static_cast<kind>(get<std::uint8_t>(record, kind_at));
}

// Every kind: the time the backend merges on.
[[nodiscard]] inline std::int64_t time_of(const std::byte* record) noexcept {
    return get<std::int64_t>(record, time_at);
}

[[nodiscard]] inline async_logger* logger_of(const std::byte* record) noexcept {
    return get<async_logger*>(record,
                              kind_of(record) == kind::message ? logger_at : control_logger_at);
}

[[nodiscard]] inline waiter* waiter_of(const std::byte* record) noexcept {
    return get<waiter*>(record, waiter_at);
}

// A message record as the sinks want it: a log_msg whose strings point into
// the record (valid until it is released) or at `own_name`.
struct decoded_message {
    spdlog::details::log_msg msg;
    bool flush_after = false;
};

[[nodiscard]] inline decoded_message decode_message(const std::byte* record, std::size_t size,
                                                    std::string_view own_name) noexcept {
    decoded_message d;
    spdlog::details::log_msg& m = d.msg;
    m.level = static_cast<spdlog::level::level_enum>(get<std::uint8_t>(record, level_at));
    d.flush_after = (get<std::uint8_t>(record, flags_at) & flush_after_flag) != 0;
    m.time = spdlog::log_clock::time_point(
        spdlog::log_clock::duration(get<std::int64_t>(record, time_at)));
    m.thread_id = static_cast<std::size_t>(get<std::uint64_t>(record, thread_at));
    m.source.filename = get<const char*>(record, file_at);
    m.source.funcname = get<const char*>(record, function_at);
    m.source.line = get<std::int32_t>(record, line_at);
    const std::size_t name_length = get<std::uint32_t>(record, name_length_at);
    const char* text = reinterpret_cast<const char*>(record + message_header);
    m.logger_name = name_length == 0 ? spdlog::string_view_t(own_name.data(), own_name.size())
                                     : spdlog::string_view_t(text, name_length);
    m.payload = spdlog::string_view_t(text + name_length, size - message_header - name_length);
    return d;
}

}  // namespace logbuf::details::record
