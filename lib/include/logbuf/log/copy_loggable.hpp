// logbuf/log/copy_loggable.hpp - the opt-in that lets a user type travel to
// the backend in binary, to be formatted there.
//
//   struct price { std::int64_t ticks; };          // trivially copyable
//   template <> struct fmt::formatter<price> { ... };
//   template <> inline constexpr bool logbuf::log::copy_loggable<price> = true;
//
// Without the opt-in a user type is formatted on the calling thread (so the
// line shows its value at the call, whatever happens to it afterwards). With
// it, the call copies the object's bytes and the backend thread formats the
// copy: cheaper on the caller, and still the value at the call. Only declare
// it for types whose formatter reads nothing but the object's own bytes (no
// pointers to data that may change or die after the call).
#pragma once

namespace logbuf::log {

// false for every type unless specialised; a specialisation for a type that
// is not trivially copyable is a compile error at the first log call.
template <class T>
inline constexpr bool copy_loggable = false;

}  // namespace logbuf::log
