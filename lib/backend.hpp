// lib/backend.hpp - the logging layer's one backend thread. Every logger of
// the process (the spdlog adapter's, the logbuf::log front end's) commits its
// records into rings of its own; this thread drains all of them, writes each
// record in timestamp order across the rings, and parks when there is
// nothing to do. It starts on first use and drains and stops at exit.
//
// How a front end uses this
// -------------------------
// 1. Wrap each producer ring in a backend_source (below) and hand it over:
//        backend::instance().add(std::make_shared<my_source>(...));
//    The backend keeps the shared_ptr until the source says retired(); the
//    source keeps alive whatever its records need (sinks, logger state)
//    until they are written. Nothing here ever joins a thread or waits for
//    a producer.
// 2. Hot path: commit the record, then either call wake() (a seq_cst fence
//    and a load; a futex wake only if the backend is parked), or do not and
//    let the backend find the record within the source's idle_sleep(). Call
//    wake() when the ring is full. A log call that does not wake must still
//    call ensure_running() (one relaxed load when the backend runs): after a
//    fork, or at exit once the backend has stopped, it starts a backend
//    (child) or writes the records on the calling thread (exit).
// 3. flush(after): returns once every record committed (in any source)
//    before the call has been written and after() has run on the backend
//    thread (after() typically flushes sinks). It waits only while the
//    backend makes progress: after no_progress_limit (100 ms) without any,
//    it returns false and the records are still written later; the caller
//    reports that (never from under a lock the backend might need).
//    For a wait on a marker of your own (a flush record in your ring, a
//    ticket published by write_next()): publish with release, call
//    notify_waiters() on the backend thread, and wait with wait(done).
// 4. The backend calls the source's members on its own thread only, never
//    two at once. on_backend_thread() tells a sink that logs (and so must
//    not wait for the backend) that it is the backend.
// 5. fork(): before it, the backend writes what is committed and calls
//    every source's flush_sinks() (so no stdio buffer holds a line the child
//    would write again). In the child, every source's after_fork_in_child()
//    must forget what its ring held (the parent writes it) and make the
//    ring usable by the child's one thread (claims held by parent threads
//    that do not exist in the child never commit); the child's backend
//    starts on the next wake(), ensure_running(), add() or flush().
//
// docs/design.md, "spdlog backend", has the memory-order table.
#pragma once

#include <logbuf/channel/details/parker.hpp>
#include <logbuf/details/cache_line.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace logbuf::details {

// The common ordering key of every record: nanoseconds since the system
// clock's epoch (a front end stamping with the TSC converts on the backend,
// in peek()).
using backend_time = std::int64_t;

// How long a flush() or a destructor waits without the backend writing
// anything before it gives up (a sink blocked on a lock the waiter holds).
inline constexpr std::chrono::milliseconds no_progress_limit{100};

// One producer ring as the backend sees it. Every member is called on the
// backend thread only (or, once the backend has stopped at exit, by one
// caller at a time under the backend's lock).
class backend_source {
  public:
    backend_source() = default;
    backend_source(const backend_source&) = delete;
    backend_source& operator=(const backend_source&) = delete;
    virtual ~backend_source() = default;

    // The timestamp of the next committed record, or nullopt when none is
    // committed. Must not change until write_next() (the backend caches it).
    [[nodiscard]] virtual std::optional<backend_time> peek() noexcept = 0;
    // Writes the record peek() announced to its sinks and releases it.
    virtual void write_next() noexcept = 0;
    // True once nothing will ever be committed again and everything
    // committed has been written: the backend drops its shared_ptr.
    [[nodiscard]] virtual bool retired() noexcept = 0;
    // Flushes every sink this source writes to (before fork, at exit, for
    // flush_sinks requests).
    virtual void flush_sinks() noexcept {}
    // The longest a committed record of this source may wait for a backend
    // that nobody woke: the backend's park slice is the smallest of these.
    [[nodiscard]] virtual std::chrono::nanoseconds idle_sleep() const noexcept {
        return std::chrono::milliseconds(1);
    }
    // Periodic work (e.g. flushing the sinks every N ms). Called once when
    // the source is added and then whenever the time it returned has come;
    // returns when to be called next (time_point::max(): never).
    [[nodiscard]] virtual std::chrono::steady_clock::time_point on_timer(
        std::chrono::steady_clock::time_point /*now*/) noexcept {
        return std::chrono::steady_clock::time_point::max();
    }
    // In the child, right after fork() (one thread, nothing else running):
    // drop what the ring holds unwritten and make it usable again.
    virtual void after_fork_in_child() noexcept = 0;
};

class backend {
  public:
    // The process's backend (never destroyed: usable during static
    // destruction; stops at exit through an atexit handler).
    [[nodiscard]] static backend& instance() noexcept;

    backend(const backend&) = delete;
    backend& operator=(const backend&) = delete;

    // Registers a source; starts the backend thread if needed. Any thread.
    void add(std::shared_ptr<backend_source> source);

    // After committing: wake the backend if it is parked. A seq_cst fence
    // and one load when it is not parked; starts it when it is not running.
    void wake() noexcept {
        // Relaxed: a hint; the cold path re-reads under the lock.
        if (state_.load(std::memory_order_relaxed) != state::running) [[unlikely]]
            not_running();
        parker_.notify();
    }
    // For commits that do not wake(): one relaxed load while the backend runs.
    void ensure_running() noexcept {
        // Relaxed: as in wake().
        if (state_.load(std::memory_order_relaxed) != state::running) [[unlikely]]
            not_running();
    }

    // Waits until every record committed before the call in every source is
    // written, then runs after() on the backend thread (if given) and
    // returns true; false if it gave up after `no_progress` without
    // progress (after() still runs, later). From the backend thread itself:
    // writes nothing, runs after() at once, returns true.
    bool flush(std::function<void()> after = {},
               std::chrono::nanoseconds no_progress = no_progress_limit) noexcept;
    // flush() whose after() calls every source's flush_sinks().
    bool flush_all_sinks(std::chrono::nanoseconds no_progress = no_progress_limit) noexcept;

    // Waits until done() (checked under the waiters' lock; whoever makes it
    // true calls notify_waiters() afterwards) or until `no_progress` passes
    // without the backend writing anything. Returns done().
    template <class Done>
    bool wait(Done&& done, std::chrono::nanoseconds no_progress = no_progress_limit) noexcept;
    // Backend thread: after publishing something a wait() may be waiting for.
    void notify_waiters() noexcept;

    // Writes everything, flushes every source's sinks, stops the thread
    // (under the no-progress rule: a stuck sink leaves it running, and this
    // returns false). From then on records are written by the threads that
    // commit them (ensure_running/wake/flush). Called at exit.
    bool shutdown() noexcept;

    [[nodiscard]] bool on_backend_thread() const noexcept {
        // Relaxed: only equal to our own id if we stored it, on this thread.
        return backend_thread_.load(std::memory_order_relaxed) == std::this_thread::get_id();
    }
    // Records written so far (and requests completed): what "progress" means.
    [[nodiscard]] std::uint64_t progress() const noexcept {
        // Relaxed: compared with an earlier value of itself only.
        return progress_.load(std::memory_order_relaxed);
    }

  private:
    // idle: no thread (never started, shut down, or a fork child).
    // running: the thread runs or parks for the sources' idle_sleep.
    // sleeping: the thread has been idle for a while and parks longer; the
    //   next wake()/ensure_running() wakes it (a futex wake, once).
    // stopped: after exit; committers write.
    enum class state : int { idle, running, sleeping, stopped };
    struct request;
    struct entry;

    backend();
    ~backend() = delete;

    void not_running() noexcept;   // start the thread, or write inline once stopped
    void start_locked();           // control_ held
    void run() noexcept;           // the backend thread
    std::size_t round() noexcept;  // consumer_ held; returns records written
    bool anything_to_do() noexcept;
    std::chrono::nanoseconds park_slice(std::chrono::steady_clock::time_point now) noexcept;
    std::chrono::nanoseconds timer_slice(std::chrono::steady_clock::time_point now) noexcept;
    // Until the next timer (and, with_idle_sleep, no longer than any
    // source's idle_sleep()); at least 1 ns, at most longest_park.
    std::chrono::nanoseconds slice_until(std::chrono::steady_clock::time_point now,
                                         bool with_idle_sleep) noexcept;
    void drain_here() noexcept;  // stopped: write what is committed, on the caller
    bool submit(std::shared_ptr<request> r, std::chrono::nanoseconds no_progress) noexcept;

    static void prepare_fork() noexcept;
    static void parent_after_fork() noexcept;
    static void child_after_fork() noexcept;
    static void at_exit() noexcept;

    // Thread lifecycle, new sources, requests. Never held while a sink runs.
    std::mutex control_;
    std::vector<std::shared_ptr<backend_source>> incoming_;  // control_
    std::deque<std::shared_ptr<request>> requests_;          // control_
    std::thread* thread_ = nullptr;                          // control_
    std::thread* forgotten_thread_ = nullptr;  // a fork child's: the parent's, never joined
    bool exit_hook_ = false;                   // control_

    // Held by whoever runs a round (the thread, or a caller once stopped),
    // so that fork() never copies a half-written sink and the stopped
    // backend has one writer at a time.
    std::timed_mutex consumer_;
    std::vector<entry> entries_;                  // consumer_
    std::uint64_t rounds_ = 0;                    // consumer_
    std::vector<std::shared_ptr<request>> open_;  // consumer_: taken, not complete
    bool stop_requested_now_ = false;             // consumer_: a stop request has completed
    bool fork_has_consumer_ = false;  // between prepare_fork and the after-fork handlers

    // waiters: wait()/notify_waiters().
    std::mutex waiters_;
    std::condition_variable waiter_wake_;

    // state_: written under control_, read anywhere (relaxed hint).
    std::atomic<state> state_{state::idle};
    // Set by add()/flush()/shutdown() under control_; the thread exchanges
    // it to false before it looks at incoming_/requests_.
    std::atomic<bool> control_pending_{false};
    std::atomic<std::thread::id> backend_thread_{};
    alignas(false_sharing_range) std::atomic<std::uint64_t> progress_{0};
    // The backend's sleep. Fences, not membarrier: the idle backend parks
    // every slice, and membarrier would interrupt every thread of the
    // process each time.
    alignas(false_sharing_range) channel::details::parker parker_{channel::fence_mode::fences};
};

template <class Done>
bool backend::wait(Done&& done, std::chrono::nanoseconds no_progress) noexcept {
    using clock = std::chrono::steady_clock;
    std::unique_lock<std::mutex> lock(waiters_);
    std::uint64_t seen = progress();
    clock::time_point give_up = clock::now() + no_progress;
    while (!done()) {
        // Relaxed: a hint; drain_here() takes the consumer lock.
        if (state_.load(std::memory_order_relaxed) == state::stopped) {
            lock.unlock();
            drain_here();
            lock.lock();
            if (done()) break;
        }
        // Short slices: the stopped case above is polled, not notified.
        const clock::time_point now = clock::now();
        if (waiter_wake_.wait_until(lock, std::min(give_up, now + std::chrono::milliseconds(10)),
                                    done))
            break;
        if (const std::uint64_t p = progress(); p != seen) {
            seen = p;
            give_up = clock::now() + no_progress;
        } else if (clock::now() >= give_up) {
            return done();
        }
    }
    return true;
}

}  // namespace logbuf::details
