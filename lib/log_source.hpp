// lib/log_source.hpp - logbuf::log as the shared backend (backend.hpp) sees
// it:
//
//   ring_source   one per logging thread's ring: peek() converts the oldest
//                 record's ticks to system-clock nanoseconds, write_next()
//                 decodes it, formats it with fmt and hands the line to the
//                 logger's sinks; retired once the thread is gone and the
//                 ring is empty.
//   front_end     the process-wide part: the tick clock, the live loggers
//                 (flush_all, shutdown, drop reports), and a record-less
//                 source that flushes every logger's sinks for the backend
//                 and recalibrates the clock every 100 ms.
//
//   thread's first call ──attach()──> new ring_source ──backend::add()
//   backend: merges every source's peek() by time ──> write_next()
//   ~logger: backend flush whose after() flushes its sinks and deletes it
//            (after every record committed before is written)
//
// Everything a source does runs on the backend thread (one call at a time);
// front_end's logger list is guarded by its mutex.
#pragma once

#include "backend.hpp"
#include "log_clock.hpp"

#include <logbuf/log/details/thread_ring.hpp>
#include <logbuf/log/logger.hpp>
#include <logbuf/queue/claims.hpp>

#include <fmt/format.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace logbuf::log::details {

class front_end {
  public:
    static front_end& instance();  // made on first use, never destroyed

    // A logging thread's slow path: a ring of at least `min_capacity`
    // bytes, handed to the backend.
    std::shared_ptr<thread_ring> attach(std::size_t min_capacity);
    void add_logger(logger* l);
    // The logger's last shared_ptr went: its lines reach the sinks, then it
    // is deleted on the backend thread. Waits like flush().
    void destroy(logger* l) noexcept;
    // flush() of one logger: every record committed before is written, the
    // logger's drops reported and its sinks flushed.
    bool flush(logger& l) noexcept;
    // shutdown(): every logger drops (and counts) its later calls.
    void silence_all() noexcept;

    // Backend thread only (ring_source and the timer).
    [[nodiscard]] tick_clock& clock() noexcept { return clock_; }
    void write(const thread_ring& ring, const std::byte* record) noexcept;
    void report_drops(logger& l) noexcept;
    void flush_sinks(const logger& l) noexcept;
    void flush_every_logger() noexcept;
    void periodic() noexcept;
    void after_fork_in_child() noexcept;

  private:
    front_end();

    std::mutex mutex_;
    std::vector<logger*> loggers_;  // mutex_

    // The backend's.
    tick_clock clock_;
    fmt::memory_buffer text_;
    spdlog::log_clock::time_point last_time_{};
};

// What the backend may see of a logger.
class logger_access {
  public:
    static const std::vector<spdlog::sink_ptr>& sinks(const logger& l) noexcept { return l.sinks_; }
    static const std::string& name(const logger& l) noexcept { return l.name_; }
    static std::uint64_t& drops_reported(logger& l) noexcept { return l.drops_reported_; }
    static void destroy(logger* l) noexcept { delete l; }
    static void silence(logger& l) noexcept;  // shutdown: every later call is dropped
};

}  // namespace logbuf::log::details
