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
    // min_async_capacity. A logger and its clones share one ring. A record
    // is at most a quarter of the ring (a longer message is cut, with a
    // marker). A record takes 8 + 52 bytes plus the message text,
    // rounded up to 8: about 100 bytes for a typical line, so the default
    // holds some 10 000 lines. The ring is allocated (and its pages touched)
    // once, when the logger is made.
    std::size_t capacity = std::size_t{1} << 20;

    // See overflow_policy.
    overflow_policy overflow = overflow_policy::block;

    // How long the idle backend thread sleeps (parks on a futex, woken by
    // a fence-paired notify; no membarrier) at a time. The backend is shared
    // by every logger of the process and sleeps for the shortest idle_sleep
    // among them. When every ring runs dry it spins a few microseconds,
    // yields a few times, then parks for this long, wakes, looks, and parks
    // again (without spinning). Log calls do not wake it (see wake_on_log), so
    // this is also the longest a line waits in the ring before the backend
    // hands it to the sinks. After 50 ms without any record it parks 25 ms at
    // a time instead, and the next log call wakes it (one futex wake per
    // quiet spell, on that call's thread). flush(), a full ring and shutdown
    // wake it at once.
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
    // false (default): while the backend is awake (steady logging) log calls
    // make no syscall while the ring has room; the backend finds new lines
    // within idle_sleep. Only the first call after a quiet spell of 50 ms
    // wakes it (see idle_sleep).
    bool wake_on_log = false;

    // The no-progress rule of flush() and of the last shared_ptr going:
    // they wait for as long as the backend keeps writing, and give up once
    // it has written nothing for this long (a sink or an error handler
    // waiting on a lock the caller holds, such as spdlog's registry mutex
    // during spdlog::drop). The give-up is reported through the logger's
    // error handler, from the backend thread, once it moves again; the
    // messages are still written. Must be positive.
    std::chrono::milliseconds flush_timeout = std::chrono::milliseconds(100);

    // Zero (the default): off. Otherwise the backend flushes the sinks of
    // this ring's loggers this often when something was written since the
    // last flush, without taking spdlog's registry mutex. Prefer it to
    // spdlog::flush_every() for async loggers: that one calls flush() under
    // the registry mutex, so every spdlog::get() waits behind a slow sink.
    std::chrono::milliseconds flush_every{0};

    // true: set up like spdlog's own factories (registry::initialize_logger):
    // the global pattern, level, flush level, error handler and backtrace
    // setting are applied, and the logger is registered under its name when
    // automatic registration is on (spdlog::spdlog_ex if the name is taken).
    // Note that the global pattern replaces the sinks' own formatters.
    // false: like `std::make_shared<spdlog::async_logger>(...)`: the sinks
    // keep their formatters, nothing global is applied, nothing registered
    // (spdlog::register_logger() it yourself if you want spdlog::get()).
    bool use_registry = true;

    // Run on the backend thread (shared by every logger) when it first sees
    // this logger's ring and after the ring's last logger is gone, e.g. to
    // pin the backend to a core away from the hot threads. May be empty.
    hook on_thread_start;
    hook on_thread_stop;
};

}  // namespace logbuf
