// lib/log_source.hpp - the backend half of logbuf::log: every logging
// thread's ring, the merge that writes their records in timestamp order,
// the tick clock, and the lifetimes of loggers and rings.
//
//   thread's first call ──attach()──> pending_ ──(backend)──> rings_
//   backend: poll() ── k-way merge by timestamp over the rings' oldest records ──> decode,
//            fmt, sinks
//   flush(): drain_and_flush() on the backend: every record older than the
//            flush's timestamp, then every sink flushed
//   ~logger: flush, then retire(): freed by the backend once no record of
//            it can be left in any ring
//
// One object per process. Only the backend thread touches rings_ and the
// records; everything the logging threads hand over goes through mutex_.
#pragma once

#include "log_clock.hpp"

#include <logbuf/log/details/thread_ring.hpp>
#include <logbuf/log/logger.hpp>
#include <logbuf/queue/claims.hpp>

#include <fmt/format.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace logbuf::log::details {

class log_source {
  public:
    static log_source& instance();  // made on first use, never destroyed

    // A logging thread's slow path: a ring of at least `min_capacity` bytes,
    // registered with the backend.
    std::shared_ptr<thread_ring> attach(std::size_t min_capacity);
    void add_logger(logger* l);
    // After the logger's flush: it stops being flushed by flush_all and is
    // deleted by the backend once it cannot have records left.
    void retire(logger* l) noexcept;

    // Backend thread. Writes up to `budget` records; returns how many.
    std::size_t poll(std::size_t budget) noexcept;
    // Backend thread. Writes every record older than now, reports drops and
    // flushes every sink.
    void drain_and_flush() noexcept;
    // In a child after fork (single thread): forget the parent's records.
    void after_fork_child() noexcept;
    // shutdown(): every logger drops (and counts) its later calls.
    void silence_all() noexcept;
    // Records written so far: what flush() watches for progress. Relaxed:
    // a counter; the flush handshake itself goes through the driver's mutex.
    [[nodiscard]] std::uint64_t written() const noexcept {
        return written_.load(std::memory_order_relaxed);
    }
    void lock() { mutex_.lock(); }
    void unlock() { mutex_.unlock(); }

  private:
    log_source() = default;

    struct ring_state {
        std::shared_ptr<thread_ring> ring;
        queue::read_claim head;  // the oldest record not written yet, if any
        std::uint64_t head_time = 0;
    };
    struct retired_logger {
        logger* owner;
        std::uint64_t after;  // its records all predate this tick
    };

    void take_handovers() noexcept;
    bool fill(ring_state& s) noexcept;
    std::size_t merge(std::size_t budget, std::uint64_t until, bool& exhausted) noexcept;
    void write(const ring_state& s) noexcept;
    void sweep() noexcept;
    void report_drops(logger& l) noexcept;
    void flush_sinks(const logger& l) noexcept;
    void periodic() noexcept;

    std::mutex mutex_;
    std::vector<std::shared_ptr<thread_ring>> pending_;  // guarded by mutex_
    std::vector<logger*> loggers_;                       // guarded by mutex_
    std::vector<retired_logger> retire_requests_;        // guarded by mutex_
    // Relaxed hint that pending_ or retire_requests_ is not empty; the mutex
    // carries the data.
    std::atomic<bool> handover_{false};
    std::atomic<std::uint64_t> written_{0};  // only the backend writes it

    // The backend thread's.
    std::vector<ring_state> rings_;
    std::vector<retired_logger> retiring_;
    tick_clock clock_;
    fmt::memory_buffer text_;
    std::uint64_t next_periodic_ = 0;
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
