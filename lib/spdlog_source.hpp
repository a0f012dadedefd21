// lib/spdlog_source.hpp - the ring behind logbuf::async_logger and its
// clones, as one source of the shared backend (backend.hpp).
//
//   log call ──post()──> [ sender_pool ] ──commit──> MPSC ring
//                                                      │ peek()/write_next()
//   flush() ──flush record + waiter──> ring ...   backend thread (one for the
//   last shared_ptr ──retire record──> ring ...   process): writes to the
//                                                 record's logger's sinks,
//                                                 completes the waiter,
//                                                 deletes a retired logger
//
// A logger and its clones share one ring, so what one thread logs through
// them stays in order. Each record names its logger; a logger lives until
// its retire record (its last) is written, so the backend never touches a
// dead one and destroying a logger never joins a thread. flush() and the
// last shared_ptr wait for their record under the no-progress rule.
//
// docs/design.md, "spdlog backend", has the whole argument.
#pragma once

#include "backend.hpp"
#include "sender_pool.hpp"
#include "spdlog_record.hpp"

#include <logbuf/details/cache_line.hpp>
#include <logbuf/error.hpp>
#include <logbuf/queue/mpsc.hpp>
#include <logbuf/spdlog/async_logger.hpp>
#include <logbuf/spdlog/async_options.hpp>

#include <spdlog/details/log_msg.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

namespace logbuf::details {

class spdlog_source final : public backend_source {
  public:
    // A ring of options.capacity bytes. Register it with backend::add().
    explicit spdlog_source(const async_options& options);
    ~spdlog_source() override;

    // A logger now writes through this ring (its constructor).
    void attach(async_logger& logger);

    // The hot path, on the logging thread: one record for `msg`. Never
    // throws; no allocation; no syscall while the ring has room.
    void post(async_logger& from, const spdlog::details::log_msg& msg, bool flush_after) noexcept {
        const record::message_plan plan = record::plan_message(msg, from.name(), max_payload_);
        sender_pool::lease tx = senders_.try_acquire(msg.thread_id);
        if (!tx) [[unlikely]] {
            tx = when_no_sender(msg.thread_id);
            if (!tx) return;  // dropped, and counted
        }
        queue::write_claim claim = tx->try_claim(plan.size);
        if (!claim) [[unlikely]] {
            claim = when_full(*tx, plan.size, claim.error());
            if (!claim) return;  // dropped, and counted
        }
        record::encode_message(claim.data(), plan, msg, &from, flush_after);
        claim.commit();
        if (wake_on_log_)
            backend_.wake();
        else
            backend_.ensure_running();
    }

    // Returns once every record `from` (and its clones, from the same
    // threads) committed before the call is written and the sinks flushed,
    // or gives up under the no-progress rule (reported, on the backend).
    void flush(async_logger& from) noexcept;

    // The logger's end (its last shared_ptr went): writes what it logged,
    // flushes its sinks and deletes it, on the backend; waits for that under
    // the no-progress rule.
    void retire(async_logger* from) noexcept;

    [[nodiscard]] std::uint64_t dropped() const noexcept {
        // Relaxed: a statistic; nothing is published through it.
        return dropped_.load(std::memory_order_relaxed);
    }
    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }

    // backend_source (the backend thread).
    std::optional<backend_time> peek() noexcept override;
    void write_next() noexcept override;
    bool retired() noexcept override;
    void flush_sinks() noexcept override;
    std::chrono::nanoseconds idle_sleep() const noexcept override { return idle_sleep_; }
    std::chrono::steady_clock::time_point on_timer(
        std::chrono::steady_clock::time_point now) noexcept override;
    void after_fork_in_child() noexcept override;

  private:
    spdlog_source(const async_options& options,
                  std::pair<queue::mpsc::producer, queue::mpsc::consumer> ring);

    // The cold halves of post(). Every sender slot is busy: wait for one, or
    // on the backend thread (which the slot holders may be waiting for)
    // count the message as dropped and return an empty lease.
    sender_pool::lease when_no_sender(std::uint64_t thread_id) noexcept;
    // The claim failed with `why`. Returns a claim to write into, or an
    // empty one when the message is dropped (counted).
    queue::write_claim when_full(queue::mpsc::producer& tx, std::size_t size, errc why) noexcept;
    // A flush or retire record: claimed under the no-progress rule (a
    // control record is never dropped, but a stuck backend must not hang
    // its caller). False if the ring stayed full.
    bool post_control(record::kind k, async_logger* from, waiter* w) noexcept;
    // Waits for `w` under the no-progress rule; drops our reference.
    void await(waiter* w) noexcept;
    // Backend thread.
    // Marks `w` done and wakes its waiter; true if it had given up.
    bool complete(waiter* w) noexcept;
    void report_give_up(async_logger& logger, const char* what) noexcept;
    void end_of(async_logger* logger) noexcept;
    void report_drops(async_logger& logger) noexcept;
    void snapshot_loggers() noexcept;

    backend& backend_;
    const overflow_policy overflow_;
    const bool wake_on_log_;
    const std::size_t capacity_;
    const std::size_t max_payload_;  // a quarter of the ring, less the header
    const std::chrono::nanoseconds idle_sleep_;
    const std::chrono::milliseconds flush_every_;
    const std::chrono::nanoseconds no_progress_;
    const async_options::hook on_start_;
    const async_options::hook on_stop_;

    sender_pool senders_;
    queue::mpsc::consumer consumer_;  // the backend's
    queue::read_claim head_;          // the backend's: the record peek() saw

    // Loggers alive on this ring: added by constructors (any thread),
    // removed by the backend. orphans_: loggers whose retire record did not
    // fit a full ring; deleted once the ring has been seen empty.
    std::mutex loggers_mutex_;
    std::vector<async_logger*> loggers_;    // loggers_mutex_
    std::vector<async_logger*> orphans_;    // loggers_mutex_
    std::atomic<bool> has_orphans_{false};  // orphans_ is not empty (a hint)
    // Relaxed counter of loggers not yet deleted; the backend reads it in
    // retired() after it has deleted the last one itself.
    std::atomic<std::size_t> live_{0};

    // The backend thread's.
    std::vector<async_logger*> snapshot_;
    std::uint64_t drops_reported_ = 0;
    std::uint64_t lost_flushes_reported_ = 0;
    bool written_since_flush_ = false;
    bool started_ = false;

    // Written by log calls, and only when they drop a message.
    alignas(false_sharing_range) std::atomic<std::uint64_t> dropped_{0};
    // flush() calls that found the ring full and the backend stuck.
    std::atomic<std::uint64_t> lost_flushes_{0};
};

}  // namespace logbuf::details
