// logbuf/log/details/args.hpp - how a log call's arguments travel to the
// backend in binary, and how the backend formats them. Everything here is
// chosen at compile time from the argument types of the call site.
//
// Argument kinds:
//   trivial  arithmetic types, bool, char, enums, pointers, nullptr_t, and
//            types declared copy_loggable: their bytes are copied (memcpy of
//            sizeof(T)); the backend rebuilds the same type from them.
//   string   const char*, char*, char arrays, std::string, std::string_view,
//            fmt::string_view: a 4-byte length, then the characters (a null
//            C string has the length null_string and no characters). The
//            backend formats them as a std::string_view, which fmt prints
//            exactly as it prints the original.
//   other    anything else fmt can format: the whole message is formatted on
//            the caller instead (see logger.hpp), so the line shows the value
//            at the time of the call.
//
// Arguments are packed back to back without alignment: both sides memcpy.
#pragma once

#include <logbuf/log/copy_loggable.hpp>

#include <fmt/format.h>

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>

namespace logbuf::log::details {

template <class T>
using plain_t = std::remove_cvref_t<T>;

template <class T>
inline constexpr bool is_string_arg =
    std::is_same_v<std::decay_t<plain_t<T>>, const char*> ||
    std::is_same_v<std::decay_t<plain_t<T>>, char*> || std::is_same_v<plain_t<T>, std::string> ||
    std::is_same_v<plain_t<T>, std::string_view> || std::is_same_v<plain_t<T>, fmt::string_view>;

template <class T>
inline constexpr bool is_trivial_arg =
    !is_string_arg<T> && (std::is_arithmetic_v<plain_t<T>> || std::is_enum_v<plain_t<T>> ||
                          std::is_pointer_v<plain_t<T>> || std::is_null_pointer_v<plain_t<T>> ||
                          copy_loggable<plain_t<T>>);

// The type a call site's decoder is instantiated for: every string kind is
// one (std::string_view), so `"abc"`, `std::string` and `char*` share it.
template <class T>
using canonical_t = std::conditional_t<is_string_arg<T>, std::string_view, plain_t<T>>;

// True when every argument of a call can be formatted on the backend.
template <class... Args>
inline constexpr bool all_deferred = ((is_string_arg<Args> || is_trivial_arg<Args>)&&...);

// True when the encoded size is known at compile time (no strings).
template <class... Args>
inline constexpr bool all_trivial = (is_trivial_arg<Args> && ...);

// The stored length of a null C string (fmt refuses those; so does the backend).
inline constexpr std::uint32_t null_string = 0xFFFF'FFFFu;

template <class T>
[[nodiscard, gnu::always_inline]] inline std::string_view string_of(const T& value) noexcept {
    if constexpr (std::is_same_v<std::decay_t<plain_t<T>>, const char*> ||
                  std::is_same_v<std::decay_t<plain_t<T>>, char*>) {
        const char* s = value;
        return s ? std::string_view(s) : std::string_view();
    } else {
        return std::string_view(value.data(), value.size());
    }
}

template <class T>
[[nodiscard, gnu::always_inline]] inline bool is_null_string(const T& value) noexcept {
    if constexpr (std::is_pointer_v<plain_t<T>>)
        return value == nullptr;
    else
        return false;
}

// Bytes one argument takes in the record (strings uncut).
template <class T>
[[nodiscard, gnu::always_inline]] inline std::size_t encoded_size(const T& value) noexcept {
    if constexpr (is_string_arg<T>)
        return sizeof(std::uint32_t) + string_of(value).size();
    else
        return sizeof(plain_t<T>);
}

template <class... Args>
[[nodiscard, gnu::always_inline]] inline std::size_t encoded_size_of(const Args&... args) noexcept {
    if constexpr (all_trivial<Args...>)
        return (std::size_t{0} + ... + sizeof(plain_t<Args>));
    else
        return (std::size_t{0} + ... + encoded_size(args));
}

// Writes one argument at `out` and advances it; `keep` is how many
// characters of a string to copy (all of them, except when a record must be
// cut: see encode_cut in log.cpp's truncation path).
template <class T>
[[gnu::always_inline]] inline void encode_one(std::byte*& out, const T& value) noexcept {
    if constexpr (is_string_arg<T>) {
        const std::string_view s = string_of(value);
        const auto n = is_null_string(value) ? null_string : static_cast<std::uint32_t>(s.size());
        std::memcpy(out, &n, sizeof n);
        out += sizeof n;
        if (!s.empty()) std::memcpy(out, s.data(), s.size());
        out += s.size();
    } else {
        static_assert(std::is_trivially_copyable_v<plain_t<T>>,
                      "logbuf::log::copy_loggable<T> needs a trivially copyable T");
        const plain_t<T>& v = value;
        std::memcpy(out, &v, sizeof v);
        out += sizeof v;
    }
}

template <class... Args>
[[gnu::always_inline]] inline void encode_all([[maybe_unused]] std::byte* out,
                                              const Args&... args) noexcept {
    (encode_one(out, args), ...);
}

// --- The backend side --------------------------------------------------------

// What the backend formats in place of an argument of type T.
template <class T>
using decoded_t = std::conditional_t<is_string_arg<T>, fmt::string_view, plain_t<T>>;

// A string argument whose stored length is null_string.
struct null_c_string {};

template <class T>
[[nodiscard]] inline decoded_t<T> decode_one(const std::byte*& in) noexcept {
    if constexpr (is_string_arg<T>) {
        std::uint32_t n;
        std::memcpy(&n, in, sizeof n);
        in += sizeof n;
        if (n == null_string) return fmt::string_view(nullptr, 0);
        const auto* s = reinterpret_cast<const char*>(in);
        in += n;
        return fmt::string_view(s, n);
    } else {
        using U = plain_t<T>;
        std::array<std::byte, sizeof(U)> bytes;
        std::memcpy(bytes.data(), in, sizeof(U));
        in += sizeof(U);
        return std::bit_cast<U>(bytes);
    }
}

// The signature every call site's decoder has: format the arguments at `in`
// with `format` into `out`. Throws what fmt throws (the backend catches it).
using decode_fn = void (*)(const std::byte* in, fmt::string_view format, fmt::memory_buffer& out);

template <class T>
[[nodiscard]] inline bool has_null_string(const decoded_t<T>& v) noexcept {
    if constexpr (is_string_arg<T>)
        return v.data() == nullptr;
    else
        return false;
}

// One of these exists per distinct list of argument types; a record carries
// a pointer to it.
template <class... Args>
void decode([[maybe_unused]] const std::byte* in, fmt::string_view format,
            fmt::memory_buffer& out) {
    // Braced initialisation evaluates the decoders left to right.
    std::tuple<decoded_t<Args>...> values{decode_one<Args>(in)...};
    std::apply(
        [&](const auto&... v) {
            if ((has_null_string<Args>(v) || ...))
                throw fmt::format_error("string pointer is null");
            fmt::vformat_to(fmt::appender(out), format, fmt::make_format_args(v...));
        },
        values);
}

}  // namespace logbuf::log::details
