// Calibration of the log calls' ticks against the system clock (log_clock.hpp).
#include "log_clock.hpp"

#include <logbuf/log/details/ticks.hpp>

#include <chrono>
#include <cmath>

namespace logbuf::log::details {

namespace {

std::int64_t system_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

tick_clock::anchor tick_clock::take_anchor() noexcept {
    // The system-clock read lands somewhere between two tick reads; of a few
    // tries keep the tightest pair (least chance of an interrupt between).
    anchor best;
    std::uint64_t best_span = UINT64_MAX;
    for (int i = 0; i < 5; ++i) {
        const std::uint64_t before = ticks_after_prior();
        const std::int64_t ns = system_ns();
        const std::uint64_t after = ticks_after_prior();
        if (after - before < best_span) {
            best_span = after - before;
            best = anchor{before + (after - before) / 2, ns};
        }
    }
    return best;
}

tick_clock::tick_clock() {
    first_ = take_anchor();
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(2);
    while (std::chrono::steady_clock::now() < until) {
    }
    last_ = take_anchor();
    const auto dt = static_cast<double>(last_.ticks - first_.ticks);
    ns_per_tick_ = dt > 0 ? static_cast<double>(last_.ns - first_.ns) / dt : 1.0;
    if (!(ns_per_tick_ > 0) || !std::isfinite(ns_per_tick_)) ns_per_tick_ = 1.0;
    recalibrate_every_ = static_cast<std::uint64_t>(100e6 / ns_per_tick_);
}

void tick_clock::recalibrate() noexcept {
    const std::uint64_t now = ticks();
    if (now - last_.ticks < recalibrate_every_) return;
    const anchor a = take_anchor();
    const auto dt = static_cast<double>(a.ticks - first_.ticks);
    const double rate = static_cast<double>(a.ns - first_.ns) / dt;
    if (rate > 0 && std::isfinite(rate)) ns_per_tick_ = rate;
    last_ = a;
}

spdlog::log_clock::time_point tick_clock::to_time(std::uint64_t t) const noexcept {
    // Signed: a record may predate the latest anchor.
    const auto delta = static_cast<double>(static_cast<std::int64_t>(t - last_.ticks));
    const auto ns = last_.ns + static_cast<std::int64_t>(std::llround(delta * ns_per_tick_));
    return spdlog::log_clock::time_point(
        std::chrono::duration_cast<spdlog::log_clock::duration>(std::chrono::nanoseconds(ns)));
}

}  // namespace logbuf::log::details
