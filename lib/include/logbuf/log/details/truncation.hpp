// logbuf/log/details/truncation.hpp - how a call whose strings do not fit
// one record cuts them: each cut string keeps what fits and ends with the
// visible marker "...[truncated N bytes]" (the marker the spdlog adapter
// uses too). Out of line: only over-long calls get here.
#pragma once

#include <cstddef>
#include <string_view>

namespace logbuf::log::details {

// Room to reserve for one marker, whatever N is.
[[nodiscard]] std::size_t marker_reserve() noexcept;
// How many bytes of `s` to keep so that at most `room` are kept, never
// splitting a UTF-8 character.
[[nodiscard]] std::size_t keep_length(std::string_view s, std::size_t room) noexcept;
// Bytes of the marker for `cut` bytes cut off.
[[nodiscard]] std::size_t marker_size(std::size_t cut) noexcept;
// Writes that marker at `out`; returns the end.
std::byte* write_marker(std::byte* out, std::size_t cut) noexcept;

}  // namespace logbuf::log::details
