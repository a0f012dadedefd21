// lib/log_clock.hpp - turns the ticks a log call took (ticks.hpp) into
// spdlog's clock on the backend thread. The ticks are calibrated against the
// system clock: a first rate measured over a couple of milliseconds when the
// clock is made, then, every 100 ms, a fresh anchor (a TSC reading paired
// with a system-clock reading) and a rate measured over the whole time since
// the first one. A tick is converted from the latest anchor, so printed times
// follow the system clock (NTP slewing included) to well within a
// millisecond.
#pragma once

#include <spdlog/common.h>

#include <cstdint>

namespace logbuf::log::details {

class tick_clock {
  public:
    tick_clock();  // busy-waits about 2 ms to measure the first rate

    // Backend thread: take a new anchor if the last is 100 ms old or more.
    void recalibrate() noexcept;
    [[nodiscard]] spdlog::log_clock::time_point to_time(std::uint64_t ticks) const noexcept;
    [[nodiscard]] double ns_per_tick() const noexcept { return ns_per_tick_; }

  private:
    struct anchor {
        std::uint64_t ticks = 0;
        std::int64_t ns = 0;  // system clock, since its epoch
    };
    [[nodiscard]] static anchor take_anchor() noexcept;

    anchor first_;
    anchor last_;
    double ns_per_tick_ = 1.0;
    std::uint64_t recalibrate_every_ = 0;  // ticks in 100 ms
};

}  // namespace logbuf::log::details
