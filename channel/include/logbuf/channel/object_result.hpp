// logbuf/channel/object_result.hpp - what the object channel's calls
// return. Both read like a small std::expected: test with `if (r)`, ask
// error() why not.
//
//   if (auto r = tx.try_send(std::move(v)); !r) retry_later(std::move(v), r.error());
//   if (auto r = rx.recv()) use(*r); else if (r.error() == errc::disconnected) stop();
//
// A failed send carries no value: the channel never took it. The sender's
// argument is moved from only when the send succeeds, so `v` above is intact
// after a failure.
#pragma once

#include <logbuf/error.hpp>

#include <cassert>
#include <optional>
#include <utility>

namespace logbuf::channel::object {

template <class T>
class receiver;

// Outcome of try_send / send: success, errc::full (bounded channel, try_send
// only) or errc::disconnected (the receiver closed or is gone).
class [[nodiscard]] send_result {
  public:
    constexpr send_result() noexcept = default;  // success
    constexpr explicit send_result(errc error) noexcept : error_(error) {}

    // True if the value is in the channel.
    constexpr explicit operator bool() const noexcept { return error_ == errc{}; }
    // errc{} on success.
    [[nodiscard]] constexpr errc error() const noexcept { return error_; }

  private:
    errc error_{};
};

// Outcome of recv / recv_for / try_recv: a value, or why there is none -
// errc::empty (try_recv), errc::timeout (recv_for), errc::disconnected (the
// channel is closed and every value sent before was received).
template <class T>
class [[nodiscard]] recv_result {
  public:
    constexpr explicit recv_result(errc error) noexcept : error_(error) {}
    template <class... Args>
    constexpr explicit recv_result(std::in_place_t, Args&&... args)
        : value_(std::in_place, std::forward<Args>(args)...) {}

    [[nodiscard]] constexpr bool has_value() const noexcept { return value_.has_value(); }
    constexpr explicit operator bool() const noexcept { return value_.has_value(); }
    // errc{} when there is a value.
    [[nodiscard]] constexpr errc error() const noexcept { return error_; }

    // The value. Precondition: has_value() (checked by assert only).
    [[nodiscard]] constexpr T& value() & noexcept {
        assert(has_value() && "no value: see error()");
        return *value_;
    }
    [[nodiscard]] constexpr const T& value() const& noexcept {
        assert(has_value() && "no value: see error()");
        return *value_;
    }
    [[nodiscard]] constexpr T&& value() && noexcept {
        assert(has_value() && "no value: see error()");
        return std::move(*value_);
    }
    [[nodiscard]] constexpr T& operator*() & noexcept { return value(); }
    [[nodiscard]] constexpr const T& operator*() const& noexcept { return value(); }
    [[nodiscard]] constexpr T&& operator*() && noexcept { return std::move(*this).value(); }
    [[nodiscard]] constexpr T* operator->() noexcept { return &value(); }
    [[nodiscard]] constexpr const T* operator->() const noexcept { return &value(); }

    // The value as an optional, for code that prefers one (moves it out).
    [[nodiscard]] constexpr std::optional<T> take() && { return std::move(value_); }

  private:
    friend class receiver<T>;

    // The receiver moves a value straight from its slot into the result.
    template <class U>
    void emplace(U&& value) {
        value_.emplace(std::forward<U>(value));
        error_ = errc{};
    }

    std::optional<T> value_;
    errc error_{};
};

}  // namespace logbuf::channel::object
