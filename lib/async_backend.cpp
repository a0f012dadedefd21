// The backend thread, the cold paths of a log call, and the flush handshake
// of logbuf::async_logger. Layout of the records: record.hpp.
#include "async_backend.hpp"

#include <logbuf/channel/details/wait.hpp>

#include <spdlog/details/os.h>
#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>

#if defined(__linux__)
#include <pthread.h>
#endif

namespace logbuf::details {

namespace {

// Records the backend hands to the sinks before it gives the space back to
// the log calls and looks at the drop counter. Large enough to amortise both,
// small enough that a blocked caller waits at most this many sink writes.
constexpr std::size_t drain_batch = 256;

// Sender slots: about two per core, so that threads rarely share one.
std::size_t sender_slots() {
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    return std::clamp<std::size_t>(2 * std::size_t{cores}, 4, 64);
}

// "logbuf:<name>", cut to the 15 characters Linux keeps: what top -H and
// gdb show for the backend thread.
void name_this_thread([[maybe_unused]] std::string_view logger_name) {
#if defined(__linux__)
    char name[16] = "logbuf:";
    const std::size_t n = std::min(logger_name.size(), sizeof name - 8);
    std::copy_n(logger_name.data(), n, name + 7);
    name[7 + n] = '\0';
    pthread_setname_np(pthread_self(), name);
#endif
}

}  // namespace

async_backend::async_backend(async_logger& owner, const async_options& options)
    // Fences, not membarrier: callers notify() only when the ring is full or
    // they flush, while the idle backend parks every idle_sleep; membarrier
    // would interrupt every hot thread of the process on each of those parks.
    : async_backend(owner, options,
                    channel::mpsc::make(options.capacity, channel::fence_mode::fences)) {}

async_backend::async_backend(async_logger& owner, const async_options& options,
                             std::pair<channel::mpsc::sender, channel::mpsc::receiver> channel)
    : owner_(owner),
      name_(owner.name()),
      overflow_(options.overflow),
      wake_on_log_(options.wake_on_log),
      capacity_(channel.first.capacity()),
      max_payload_(channel.first.max_payload()),
      flush_timeout_(options.flush_timeout),
      on_start_(options.on_thread_start),
      on_stop_(options.on_thread_stop),
      senders_(std::move(channel.first), sender_slots()),
      receiver_(std::move(channel.second)) {
    receiver_.set_park_timeout(options.idle_sleep);
    thread_ = std::thread([this] { run(); });
}

async_backend::~async_backend() {
    // The last sender's destructor wakes the receiver; it receives every
    // record committed so far, then reports disconnected, and run() ends.
    senders_.close();
    thread_.join();
}

sender_pool::lease async_backend::when_no_sender(std::uint64_t thread_id) noexcept {
    // A sink that logs through its own logger runs on the backend thread; the
    // threads holding every slot may be waiting for it to make room. Anyone
    // else waits: a slot is held for one record's copy (drop policy) or
    // until the backend makes room (block policy).
    if (on_backend_thread()) {
        // Relaxed: a count (see when_full).
        dropped_.fetch_add(1, std::memory_order_relaxed);
        return {};
    }
    return senders_.acquire(thread_id);
}

queue::write_claim async_backend::when_full(channel::mpsc::sender& tx, std::size_t size,
                                            errc why) noexcept {
    if (why == errc::full) {
        // The backend may be parked with records waiting: wake it, whatever
        // we do next. (A syscall only if it is parked.)
        tx.notify();
        // A sink that logs through its own logger runs on the backend
        // thread, which cannot wait for itself to make room.
        if (overflow_ == overflow_policy::block && !on_backend_thread()) {
            queue::write_claim claim = tx.send(size);  // spin, then yield
            if (claim) return claim;
        }
    }
    // Dropped: the ring is full under overflow_policy::drop (or errors that
    // cannot happen while the logger lives: disconnected, too_large).
    // Relaxed: a count; the backend only reports it, nothing rides on it.
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return queue::write_claim(why);
}

void async_backend::run() noexcept {
    name_this_thread(name_);
    if (on_start_) {
        try {
            on_start_();
        } catch (...) {
            owner_.backend_error("logbuf: on_thread_start threw");
        }
    }
    const auto write = [this](std::span<const std::byte> record) noexcept { dispatch(record); };
    for (;;) {
        if (receiver_.drain(write, drain_batch) != 0) {
            report_drops();
            continue;
        }
        report_drops();
        // Nothing committed: spin, yield, then park for idle_sleep at a time.
        // Log calls do not wake us (unless wake_on_log); flush(), a full ring
        // and the last sender going away do.
        queue::read_claim claim = receiver_.recv();
        if (!claim) break;  // disconnected: every sender gone, every record received
        dispatch(claim.bytes());
    }
    report_drops();
    owner_.backend_flush();
    if (on_stop_) {
        try {
            on_stop_();
        } catch (...) {
            owner_.backend_error("logbuf: on_thread_stop threw");
        }
    }
}

void async_backend::dispatch(std::span<const std::byte> bytes) noexcept {
    const std::byte* r = bytes.data();
    switch (record::kind_of(r)) {
        case record::kind::message: {
            const record::decoded_message d = record::decode_message(r, bytes.size(), name_);
            owner_.backend_log(d.msg);
            if (d.flush_after) owner_.backend_flush();
            return;
        }
        case record::kind::flush:
            // Drops counted before the flush() call are visible here (the
            // count precedes the flush record's release-commit): their warning
            // line is part of what flush() promises is written.
            report_drops();
            owner_.backend_flush();
            // Release pairs with the acquire load in flush(): the sinks'
            // flushes happen-before the waiting caller returns.
            flushed_.store(record::ticket_of(r), std::memory_order_release);
            flush_wake_.notify();
            return;
    }
    owner_.backend_error("logbuf: unknown record kind (corrupt ring?)");
}

void async_backend::report_drops() noexcept {
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
        const spdlog::details::log_msg warning(spdlog::source_loc{},
                                               spdlog::string_view_t(name_.data(), name_.size()),
                                               spdlog::level::warn, text);
        owner_.backend_log(warning);
    } catch (...) {
        owner_.backend_error("logbuf: could not report dropped messages");
    }
}

void async_backend::flush() noexcept {
    // From a sink or the error handler: we are the backend; write through.
    if (on_backend_thread()) {
        owner_.backend_flush();
        return;
    }
    const std::lock_guard<std::mutex> one_at_a_time(flush_mutex_);
    const std::uint64_t ticket = ++flush_issued_;
    {
        const sender_pool::lease tx = senders_.acquire(spdlog::details::os::thread_id());
        queue::write_claim claim = tx->try_send(record::flush_size);
        if (!claim && claim.error() == errc::full) {
            tx->notify();
            claim = tx->send(record::flush_size);  // a flush is never dropped
        }
        if (!claim) {
            owner_.backend_error(std::string("logbuf: flush() could not reach the backend: ") +
                                 to_string(claim.error()));
            return;
        }
        record::encode_flush(claim.data(), ticket);
        claim.commit();
        tx->notify();  // unlike a log call, we want the backend now
    }
    const auto done = [this, ticket]() noexcept -> std::optional<bool> {
        // Acquire pairs with the release store in dispatch().
        if (flushed_.load(std::memory_order_acquire) >= ticket) return true;
        return std::nullopt;
    };
    channel::parking_stats parked;
    const auto deadline = std::chrono::steady_clock::now() + flush_timeout_;
    if (!channel::details::wait_until(flush_wake_, done, deadline,
                                      channel::details::default_park_timeout, parked)) {
        owner_.backend_error(fmt::format(
            "logbuf: flush() gave up after {} ms: the backend thread has not reached it "
            "(a sink that does not return?)",
            flush_timeout_.count()));
    }
}

}  // namespace logbuf::details
