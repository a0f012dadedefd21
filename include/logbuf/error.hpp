// logbuf/error.hpp - the error codes every layer reports.
//
// `errc{}` (zero) means "no error"; every other value says why a claim, a send
// or a receive produced nothing. The enum is registered with <system_error>,
// so `std::error_code ec = logbuf::errc::full;` works and prints a message.
#pragma once

#include <string>
#include <system_error>

namespace logbuf {

enum class errc {
    full = 1,      // no room in the ring / channel right now
    empty,         // nothing committed to read right now
    zero_length,   // a claim of 0 bytes
    too_large,     // a claim larger than max_payload()
    disconnected,  // the other side of a channel is gone
    timeout,       // a timed wait ran out
};

// A short, static description of `e` ("no error" for errc{}).
[[nodiscard]] constexpr const char* to_string(errc e) noexcept {
    if (e == errc{}) return "no error";
    switch (e) {
        case errc::full:
            return "ring full";
        case errc::empty:
            return "nothing to read";
        case errc::zero_length:
            return "zero-length claim";
        case errc::too_large:
            return "claim larger than max_payload()";
        case errc::disconnected:
            return "other side disconnected";
        case errc::timeout:
            return "timed out";
    }
    return "unknown logbuf error";
}

namespace details {
class error_category_impl final : public std::error_category {
  public:
    const char* name() const noexcept override { return "logbuf"; }
    std::string message(int value) const override { return to_string(static_cast<errc>(value)); }
};
}  // namespace details

// The one "logbuf" category. A function-local static is one object per program
// even though this header is included from many translation units.
[[nodiscard]] inline const std::error_category& error_category() noexcept {
    static const details::error_category_impl category;
    return category;
}

[[nodiscard]] inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), error_category()};
}

}  // namespace logbuf

template <>
struct std::is_error_code_enum<logbuf::errc> : std::true_type {};
