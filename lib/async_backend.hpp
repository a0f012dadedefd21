// lib/async_backend.hpp - the machinery behind logbuf::async_logger:
// the ring (an MPSC channel), the senders the log calls lease, the backend
// thread that writes records to the sinks, and the flush handshake.
//
//   log call ──post()──> [ sender_pool ] ──commit──> ring ──drain──> backend thread
//                                                                      │ sinks
//   flush() ──flush record, ticket t──> ring ... backend flushes sinks,
//            waits on flush_wake_ <─────────────── publishes flushed_ = t, notify
//   ~async_backend ──close every sender──> backend drains, sees disconnected,
//                                          flushes the sinks, ends; joined
//
// docs/design.md, "spdlog backend", has the whole argument.
#pragma once

#include "sender_pool.hpp"
#include "spdlog_record.hpp"

#include <logbuf/channel/details/parker.hpp>
#include <logbuf/channel/mpsc.hpp>
#include <logbuf/details/cache_line.hpp>
#include <logbuf/error.hpp>
#include <logbuf/spdlog/async_logger.hpp>
#include <logbuf/spdlog/async_options.hpp>

#include <spdlog/details/log_msg.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <string_view>
#include <thread>
#include <utility>

namespace logbuf::details {

class async_backend {
  public:
    // Makes the ring and starts the backend thread, which from then on calls
    // `owner`'s sinks. `owner` must outlive this object (it owns it).
    async_backend(async_logger& owner, const async_options& options);
    // Closes every sender; the thread writes what is left, flushes the sinks
    // and ends; joins it.
    ~async_backend();

    async_backend(const async_backend&) = delete;
    async_backend& operator=(const async_backend&) = delete;

    // The hot path, on the logging thread: one record for `msg`. Never
    // throws; no allocation; no syscall while the ring has room.
    void post(const spdlog::details::log_msg& msg, bool flush_after) noexcept {
        const record::message_plan plan = record::plan_message(msg, name_, max_payload_);
        sender_pool::lease tx = senders_.try_acquire(msg.thread_id);
        if (!tx) [[unlikely]] {
            tx = when_no_sender(msg.thread_id);
            if (!tx) return;  // dropped, and counted
        }
        queue::write_claim claim = tx->try_send(plan.size);
        if (!claim) [[unlikely]] {
            claim = when_full(*tx, plan.size, claim.error());
            if (!claim) return;  // dropped, and counted
        }
        record::encode_message(claim.data(), plan, msg, flush_after);
        claim.commit();
        if (wake_on_log_) tx->notify();
    }

    // Returns once every record committed before the call has been written
    // and the sinks flushed, or reports a timeout. Any thread.
    void flush() noexcept;

    [[nodiscard]] std::uint64_t dropped() const noexcept {
        // Relaxed: a statistic; nothing is published through it.
        return dropped_.load(std::memory_order_relaxed);
    }
    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }

  private:
    async_backend(async_logger& owner, const async_options& options,
                  std::pair<channel::mpsc::sender, channel::mpsc::receiver> channel);

    // The cold halves of post(). Every sender slot is busy: wait for one, or
    // on the backend thread (which the slot holders may be waiting for) count
    // the message as dropped and return an empty lease.
    sender_pool::lease when_no_sender(std::uint64_t thread_id) noexcept;
    // The claim failed with `why`. Returns a claim to write into, or an empty
    // one when the message is dropped (counted).
    queue::write_claim when_full(channel::mpsc::sender& tx, std::size_t size, errc why) noexcept;

    void run() noexcept;  // the backend thread
    void dispatch(std::span<const std::byte> record) noexcept;
    void report_drops() noexcept;
    [[nodiscard]] bool on_backend_thread() const noexcept {
        return std::this_thread::get_id() == thread_.get_id();
    }

    async_logger& owner_;
    const std::string_view name_;  // owner_'s name, which never changes
    const overflow_policy overflow_;
    const bool wake_on_log_;
    const std::size_t capacity_;
    const std::size_t max_payload_;
    const std::chrono::milliseconds flush_timeout_;
    const async_options::hook on_start_;
    const async_options::hook on_stop_;

    sender_pool senders_;
    channel::mpsc::receiver receiver_;  // the backend thread's, once started
    std::uint64_t drops_reported_ = 0;  // the backend thread's

    // Written by log calls, and only when they drop a message.
    alignas(false_sharing_range) std::atomic<std::uint64_t> dropped_{0};

    // The flush handshake. flushed_: the last ticket the backend finished
    // (written by the backend, read by the waiting flush()). flush_mutex_
    // lets one flush() at a time issue a ticket and wait: tickets then enter
    // the ring in order, and the parker has its single waiter.
    alignas(false_sharing_range) std::atomic<std::uint64_t> flushed_{0};
    channel::details::parker flush_wake_;
    std::mutex flush_mutex_;
    std::uint64_t flush_issued_ = 0;  // guarded by flush_mutex_

    std::thread thread_;  // last: starts once everything above exists
};

}  // namespace logbuf::details
