// The adapter's ring as a backend source: the cold paths of a log call, the
// flush and retire handshakes, and what the backend thread does with each
// record. Layout of the records: spdlog_record.hpp.
#include "spdlog_source.hpp"

#include <logbuf/channel/details/backoff.hpp>

#include <spdlog/details/os.h>
#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <thread>

namespace logbuf::details {

namespace {

// Sender slots: about two per core, so that threads rarely share one.
std::size_t sender_slots() {
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    return std::clamp<std::size_t>(2 * std::size_t{cores}, 4, 64);
}

// A record is never larger than a quarter of the ring: a long message on an
// idle ring always fits, whatever the ring's read position, and never waits
// for an exactly empty ring.
std::size_t quarter_payload(std::size_t capacity) {
    return capacity / 4 - 8;
}

std::int64_t now_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               spdlog::log_clock::now().time_since_epoch())
        .count();
}

}  // namespace

spdlog_source::spdlog_source(const async_options& options)
    : spdlog_source(options, queue::mpsc::make(options.capacity)) {}

spdlog_source::spdlog_source(const async_options& options,
                             std::pair<queue::mpsc::producer, queue::mpsc::consumer> ring)
    : backend_(backend::instance()),
      overflow_(options.overflow),
      wake_on_log_(options.wake_on_log),
      capacity_(ring.first.capacity()),
      max_payload_(quarter_payload(ring.first.capacity())),
      idle_sleep_(options.idle_sleep),
      flush_every_(options.flush_every),
      no_progress_(options.flush_timeout),
      on_start_(options.on_thread_start),
      on_stop_(options.on_thread_stop),
      senders_(std::move(ring.first), sender_slots()),
      consumer_(std::move(ring.second)) {}

spdlog_source::~spdlog_source() = default;

void spdlog_source::attach(async_logger& logger) {
    const std::lock_guard<std::mutex> lock(loggers_mutex_);
    loggers_.push_back(&logger);
    // Relaxed: a count; the mutex orders the list itself.
    live_.fetch_add(1, std::memory_order_relaxed);
}

sender_pool::lease spdlog_source::when_no_sender(std::uint64_t thread_id) noexcept {
    // A sink that logs through its own logger runs on the backend thread; the
    // threads holding every slot may be waiting for it to make room. Anyone
    // else waits: a slot is held for one record's copy (drop policy) or
    // until the backend makes room (block policy).
    if (backend_.on_backend_thread()) {
        // Relaxed: a count (see when_full).
        dropped_.fetch_add(1, std::memory_order_relaxed);
        return {};
    }
    return senders_.acquire(thread_id);
}

queue::write_claim spdlog_source::when_full(queue::mpsc::producer& tx, std::size_t size,
                                            errc why) noexcept {
    if (why == errc::full) {
        // The backend may be parked with records waiting: wake it, whatever
        // we do next. (A syscall only if it is parked.)
        backend_.wake();
        // A sink that logs through its own logger runs on the backend
        // thread, which cannot wait for itself to make room.
        if (overflow_ == overflow_policy::block && !backend_.on_backend_thread()) {
            // The queue's waiting claim: a record of more than an eighth of
            // the ring takes the ring's turn, so that other threads logging
            // all the time cannot keep it out. Never gives up (block).
            channel::details::backoff wait;
            queue::write_claim claim = tx.claim_waiting(size, [&]() noexcept {
                wait.snooze();
                if (wait.is_completed()) backend_.wake();  // once stopped: drains here
                return true;
            });
            if (claim) return claim;
            why = claim.error();  // not full: an error the first try did not see
        }
    }
    // Dropped: the ring is full under overflow_policy::drop (or errors that
    // cannot happen: a record is at most a quarter of the ring).
    // Relaxed: a count; the backend only reports it, nothing rides on it.
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return queue::write_claim(why);
}

bool spdlog_source::post_control(record::kind k, async_logger* from, waiter* w) noexcept {
    const bool on_backend = backend_.on_backend_thread();
    const std::uint64_t me = spdlog::details::os::thread_id();
    // The backend cannot wait for a slot: its holders may be waiting for it.
    sender_pool::lease tx = on_backend ? senders_.try_acquire(me) : senders_.acquire(me);
    if (!tx) return false;
    queue::write_claim claim = tx->try_claim(record::control_size);
    if (!claim) {
        // Full: wait while the backend makes progress (never on the backend
        // itself, which would wait for its own progress).
        std::uint64_t seen = backend_.progress();
        auto give_up = std::chrono::steady_clock::now() + no_progress_;
        channel::details::backoff wait;
        while (!on_backend && !claim) {
            backend_.wake();
            wait.snooze();
            claim = tx->try_claim(record::control_size);
            if (claim || claim.error() != errc::full) break;
            if (const std::uint64_t p = backend_.progress(); p != seen) {
                seen = p;
                give_up = std::chrono::steady_clock::now() + no_progress_;
            } else if (std::chrono::steady_clock::now() >= give_up) {
                break;
            }
        }
        if (!claim) return false;
    }
    record::encode_control(claim.data(), k, now_ns(), from, w);
    claim.commit();
    backend_.wake();  // unlike a log call, we want the backend now
    return true;
}

void spdlog_source::await(waiter* w) noexcept {
    const bool done = backend_.wait(
        [w] {
            // Acquire pairs with the acq_rel exchange in complete(): the
            // sinks' writes and flushes happen-before we return.
            return w->state.load(std::memory_order_acquire) == waiter::done;
        },
        no_progress_);
    if (!done) {
        // acq_rel: pairs with complete(). If the backend got there first
        // after all, it was done.
        (void)w->state.exchange(waiter::abandoned, std::memory_order_acq_rel);
    }
    w->release();
}

void spdlog_source::flush(async_logger& from) noexcept {
    // From a sink or the error handler: we are the backend; write through.
    if (backend_.on_backend_thread()) {
        from.backend_flush();
        return;
    }
    waiter* w = new (std::nothrow) waiter;
    if (w == nullptr) {
        from.backend_error("logbuf: flush() out of memory");
        return;
    }
    if (!post_control(record::kind::flush, &from, w)) {
        // The ring stayed full and the backend made no progress. Say so
        // from the backend (the error handler may need locks we hold).
        w->release();
        w->release();
        // Relaxed: a count reported by the backend (as drops are).
        lost_flushes_.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    await(w);
}

void spdlog_source::retire(async_logger* from) noexcept {
    const bool on_backend = backend_.on_backend_thread();
    waiter* w = on_backend ? nullptr : new (std::nothrow) waiter;
    if (!post_control(record::kind::retire, from, w)) {
        // No room for the record: the backend deletes the logger once it has
        // seen the ring empty (its records are all before that).
        {
            const std::lock_guard<std::mutex> lock(loggers_mutex_);
            orphans_.push_back(from);
            has_orphans_.store(true, std::memory_order_relaxed);  // relaxed: see peek()
        }
        backend_.wake();
        if (w != nullptr) {
            w->release();
            w->release();
        }
        return;
    }
    if (w != nullptr) await(w);
}

std::optional<backend_time> spdlog_source::peek() noexcept {
    if (!head_) {
        head_ = consumer_.try_claim();
        if (!head_) {
            // Relaxed: a hint; the list itself is read under the mutex. An
            // orphan added after this load waits for the next look.
            if (!has_orphans_.load(std::memory_order_relaxed)) [[likely]]
                return std::nullopt;
            // Look again under the lock: an orphan's records were committed
            // before it was listed (the mutex orders them before this look),
            // but the look above, before the lock, may predate them.
            std::vector<async_logger*> gone;
            {
                const std::lock_guard<std::mutex> lock(loggers_mutex_);
                head_ = consumer_.try_claim();
                if (!head_) {
                    gone.swap(orphans_);
                    has_orphans_.store(false, std::memory_order_relaxed);  // relaxed: as above
                }
            }
            if (head_) return record::time_of(head_.data());
            // Seen empty: every record of an orphan is written. What its
            // retire record would have done: drops reported, sinks flushed.
            for (async_logger* l : gone) {
                report_drops(*l);
                l->backend_flush();
                end_of(l);
            }
            return std::nullopt;
        }
    }
    return record::time_of(head_.data());
}

void spdlog_source::write_next() noexcept {
    const std::byte* r = head_.data();
    async_logger* logger = record::logger_of(r);
    switch (record::kind_of(r)) {
        case record::kind::message: {
            const record::decoded_message d =
                record::decode_message(r, head_.size(), logger->name());
            report_drops(*logger);
            logger->backend_log(d.msg);
            if (d.flush_after) logger->backend_flush();
            written_since_flush_ = true;
            break;
        }
        case record::kind::flush:
            // Drops counted before the flush() call are visible here (the
            // count precedes the flush record's release-commit): their warning
            // line is part of what flush() promises is written.
            report_drops(*logger);
            logger->backend_flush();
            if (complete(record::waiter_of(r))) report_give_up(*logger, "flush()");
            break;
        case record::kind::retire: {
            report_drops(*logger);
            logger->backend_flush();
            waiter* w = record::waiter_of(r);
            head_.release();  // the logger's last record: it may go now
            // Acquire pairs with the exchange in await(): a waiter that has
            // given up hears about it while the logger still exists.
            if (w != nullptr && w->state.load(std::memory_order_acquire) == waiter::abandoned)
                report_give_up(*logger, "destruction");
            end_of(logger);  // done before the waiter returns (on_thread_stop too)
            complete(w);
            return;
        }
        default:
            logger->backend_error("logbuf: unknown record kind (corrupt ring?)");
            break;
    }
    head_.release();
}

bool spdlog_source::complete(waiter* w) noexcept {
    if (w == nullptr) return false;
    // acq_rel: release pairs with the acquire load in await() (the sinks'
    // work happens-before the waiter returns); acquire sees an abandon.
    const bool abandoned =
        w->state.exchange(waiter::done, std::memory_order_acq_rel) == waiter::abandoned;
    w->release();
    backend_.notify_waiters();
    return abandoned;
}

void spdlog_source::report_give_up(async_logger& logger, const char* what) noexcept {
    try {
        logger.backend_error(fmt::format(
            "logbuf: {} of logger '{}' stopped waiting after {} ms without progress "
            "(a sink or error handler blocked on a lock the caller held?); its "
            "messages were written afterwards",
            what, logger.name(),
            std::chrono::duration_cast<std::chrono::milliseconds>(no_progress_).count()));
    } catch (...) {
    }
}

void spdlog_source::end_of(async_logger* logger) noexcept {
    {
        const std::lock_guard<std::mutex> lock(loggers_mutex_);
        std::erase(loggers_, logger);
    }
    delete logger;  // ~spdlog::logger: the sinks go with the last logger holding them
    // Relaxed: read by retired() on this same thread.
    if (live_.fetch_sub(1, std::memory_order_relaxed) == 1 && on_stop_) {
        try {
            on_stop_();
        } catch (...) {
        }
    }
}

bool spdlog_source::retired() noexcept {
    // Relaxed: decremented on this thread (end_of); a logger attached
    // elsewhere holds a shared_ptr to us, so we cannot be retired then.
    return live_.load(std::memory_order_relaxed) == 0 && !head_;
}

void spdlog_source::snapshot_loggers() noexcept {
    const std::lock_guard<std::mutex> lock(loggers_mutex_);
    try {
        snapshot_.assign(loggers_.begin(), loggers_.end());
    } catch (...) {
        snapshot_.clear();
    }
}

void spdlog_source::flush_sinks() noexcept {
    // The loggers in the snapshot stay alive: only this thread deletes them.
    snapshot_loggers();
    for (async_logger* l : snapshot_)
        l->backend_flush();
    written_since_flush_ = false;
}

std::chrono::steady_clock::time_point spdlog_source::on_timer(
    std::chrono::steady_clock::time_point now) noexcept {
    if (!started_) {
        started_ = true;
        if (on_start_) {
            try {
                on_start_();
            } catch (...) {
                snapshot_loggers();
                if (!snapshot_.empty())
                    snapshot_.front()->backend_error("logbuf: on_thread_start threw");
            }
        }
    } else if (written_since_flush_) {
        // async_options::flush_every: no registry, no lock but our list's.
        flush_sinks();
    }
    if (flush_every_ <= std::chrono::milliseconds::zero())
        return std::chrono::steady_clock::time_point::max();
    return now + flush_every_;
}

void spdlog_source::report_drops(async_logger& logger) noexcept {
    // Relaxed: a count, as below.
    if (const std::uint64_t lost = lost_flushes_.load(std::memory_order_relaxed);
        lost != lost_flushes_reported_) [[unlikely]] {
        const std::uint64_t n = lost - lost_flushes_reported_;
        lost_flushes_reported_ = lost;
        try {
            logger.backend_error(fmt::format(
                "logbuf: {} flush() call{} found the ring full and the backend without progress "
                "for {} ms, and stopped waiting",
                n, n == 1 ? "" : "s",
                std::chrono::duration_cast<std::chrono::milliseconds>(no_progress_).count()));
        } catch (...) {
        }
    }
    // Relaxed: only the count matters; the dropped messages carried nothing.
    const std::uint64_t total = dropped_.load(std::memory_order_relaxed);
    if (total == drops_reported_) [[likely]]
        return;
    const std::uint64_t n = total - drops_reported_;
    drops_reported_ = total;
    try {
        const std::string text =
            fmt::format("logbuf: ring full, dropped {} message{} (overflow_policy::drop)", n,
                        n == 1 ? "" : "s");
        const spdlog::details::log_msg warning(
            spdlog::source_loc{}, spdlog::string_view_t(logger.name().data(), logger.name().size()),
            spdlog::level::warn, text);
        logger.backend_log(warning);
    } catch (...) {
        logger.backend_error("logbuf: could not report dropped messages");
    }
}

void spdlog_source::after_fork_in_child() noexcept {
    // The parent's backend writes what the ring holds; a claim a parent
    // thread held never commits here. A fresh ring, the same loggers.
    head_ = queue::read_claim();
    try {
        auto [tx, rx] = queue::mpsc::make(capacity_);
        senders_.reset(std::move(tx));
        consumer_ = std::move(rx);
    } catch (...) {
        // No memory for a new ring: the child's log calls would wait for
        // ever on a ring nobody drains. Fail loudly instead.
        std::fputs("logbuf: fork(): no memory for the child's ring\n", stderr);
        std::abort();
    }
    // Retire records and orphans of the parent were in the old ring: those
    // loggers are gone in the parent; here they are leaked, never written.
    const std::lock_guard<std::mutex> lock(loggers_mutex_);
    orphans_.clear();
    has_orphans_.store(false, std::memory_order_relaxed);
    // Relaxed: one thread.
    drops_reported_ = dropped_.load(std::memory_order_relaxed);
    lost_flushes_reported_ = lost_flushes_.load(std::memory_order_relaxed);
}

}  // namespace logbuf::details
