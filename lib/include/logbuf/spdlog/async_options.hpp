// logbuf/spdlog/async_options.hpp - what a logbuf async logger can be told:
// ring size, what a full ring does to the caller, how the backend thread
// idles, how long flush() waits at most, and whether the logger joins spdlog's
// registry. Every field has a default, so `async_options{}` is a working
// configuration; make_async_logger() checks the values and throws
// std::invalid_argument for the ones it cannot use.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>

namespace logbuf {

// What a log call does when the ring has no room for its record.
enum class overflow_policy {
    // Wait (spin, then sched_yield; never a sleep in the kernel) until the
    // backend has made room. Nothing is ever lost. The default.
    block,
    // Give up at once and count the message; the backend writes one warning
    // line with the number dropped as soon as it has room to breathe. The
    // caller never waits.
    drop,
};

// The smallest ring make_async_logger() accepts: room for one record's
// metadata, a truncation marker and some text.
inline constexpr std::size_t min_async_capacity = 1024;

struct async_options {
    using hook = std::function<void()>;

    // Ring size in bytes, rounded up to a power of two; at least
    // min_async_capacity. A record takes 8 + 44 bytes plus the message text,
    // rounded up to 8: about 100 bytes for a typical line, so the default
    // holds some 10 000 lines. The ring is allocated (and its pages touched)
    // once, when the logger is made.
    std::size_t capacity = std::size_t{1} << 20;

    // See overflow_policy.
    overflow_policy overflow = overflow_policy::block;

    // How long the idle backend thread sleeps (parks in the kernel) at a
    // time. When the ring runs dry the backend spins a few microseconds,
    // yields a few times, then parks for this long, wakes, looks, and parks
    // again. Log calls do not wake it (see wake_on_log), so this is also the
    // longest a line waits in the ring before the backend hands it to the
    // sinks once logging resumes after a quiet spell. flush(), a full ring and
    // shutdown wake it at once.
    //   shorter: lines reach the sinks sooner; more wake-ups while idle
    //            (each a few microseconds of backend CPU).
    //   longer:  fewer wake-ups; lines sit longer in the ring (the ring must
    //            hold what the hot threads log in that time, or they hit the
    //            full-ring path).
    // Must be positive.
    std::chrono::nanoseconds idle_sleep = std::chrono::milliseconds(1);

    // true: every log call also calls notify(), which wakes a parked backend
    // at once. Lines reach the sinks within microseconds even after a quiet
    // spell, but the first log call after the backend parked pays for the
    // wake-up (a futex syscall, a few microseconds) on the hot thread.
    // false (default): log calls never make a syscall while the ring has
    // room; the backend finds new lines within idle_sleep.
    bool wake_on_log = false;

    // The longest flush() waits for the backend before it gives up and
    // reports the timeout through the logger's error handler (a sink that
    // hangs must not hang every caller of flush() with it). Must be positive.
    std::chrono::milliseconds flush_timeout = std::chrono::seconds(30);

    // true: set up like spdlog's own factories (registry::initialize_logger):
    // the global pattern, level, flush level, error handler and backtrace
    // setting are applied, and the logger is registered under its name when
    // automatic registration is on (spdlog::spdlog_ex if the name is taken).
    // Note that the global pattern replaces the sinks' own formatters.
    // false: like `std::make_shared<spdlog::async_logger>(...)`: the sinks
    // keep their formatters, nothing global is applied, nothing registered
    // (spdlog::register_logger() it yourself if you want spdlog::get()).
    bool use_registry = true;

    // Run on the backend thread when it starts and just before it ends, e.g.
    // to pin it to a core away from the hot threads. May be empty.
    hook on_thread_start;
    hook on_thread_stop;
};

}  // namespace logbuf
