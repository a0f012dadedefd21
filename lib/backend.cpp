// The backend thread: merging the sources in timestamp order, parking,
// flush requests, exit and fork. How to use it: backend.hpp.
#include "backend.hpp"

#include <logbuf/channel/details/backoff.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <new>
#include <utility>

#if defined(__unix__)
#include <pthread.h>
#endif

namespace logbuf::details {

namespace {

using clock = std::chrono::steady_clock;

// Records written per round before the backend looks at new sources,
// requests and timers again. Also what a blocked caller waits for at most.
constexpr std::size_t round_batch = 256;

// A flush request is complete for a source that has been seen empty since
// the request was taken, or whose next record is stamped this much after the
// request: under continuous logging a ring is never empty, and stamps of
// different clocks (a TSC converted on the backend) may disagree a little.
constexpr backend_time later_by = 10'000'000;  // 10 ms

// After this long without a record the backend parks deep_park at a time
// and log calls wake it (ensure_running()): an idle process costs ~40
// wake-ups a second instead of one per idle_sleep. A commit racing with the
// switch (its state_ load before our store, its record not yet visible to
// our last look) waits at most deep_park.
constexpr std::chrono::nanoseconds fall_asleep_after = std::chrono::milliseconds(50);
constexpr std::chrono::nanoseconds deep_park = std::chrono::milliseconds(25);

// The longest the backend parks with no source asking for less (nothing
// then waits on a park timeout: add(), flush() and shutdown() wake it).
constexpr std::chrono::nanoseconds longest_park = std::chrono::seconds(1);

backend_time system_now() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

void name_this_thread() noexcept {
#if defined(__linux__)
    pthread_setname_np(pthread_self(), "logbuf backend");
#endif
}

}  // namespace

struct backend::request {
    std::function<void()> after;    // run on the backend once complete
    bool all_sinks = false;         // also call every source's flush_sinks()
    bool stop = false;              // the thread ends once this is complete
    backend_time stamp = 0;         // system clock at the call
    std::uint64_t taken_round = 0;  // consumer_: the round it was taken in
    bool done = false;              // waiters_
    bool abandoned = false;         // waiters_: its shutdown() gave up; do not stop
};

struct backend::entry {
    std::shared_ptr<backend_source> source;
    std::optional<backend_time> next;  // its peek(), cached until write_next()
    std::uint64_t empty_round = 0;     // the last round it was seen empty
    clock::time_point timer = clock::time_point::max();
    std::chrono::nanoseconds idle_sleep{0};
};

backend& backend::instance() noexcept {
    // Never destroyed: loggers may be destroyed during static destruction,
    // after any destructor of ours would have run.
    static backend* const the = new backend();
    return *the;
}

backend::backend() {
#if defined(__unix__)
    pthread_atfork(&backend::prepare_fork, &backend::parent_after_fork, &backend::child_after_fork);
#endif
}

void backend::add(std::shared_ptr<backend_source> source) {
    {
        const std::lock_guard<std::mutex> lock(control_);
        incoming_.push_back(std::move(source));
        // Release pairs with the acquire exchange in round(); the mutex
        // orders incoming_ itself.
        control_pending_.store(true, std::memory_order_release);
        if (state_.load(std::memory_order_relaxed) == state::idle) start_locked();
    }
    wake();
}

void backend::not_running() noexcept {
    state expected = state::sleeping;
    // Relaxed: the futex wake below orders what matters (the record was
    // committed before our notify; the woken backend polls after it).
    if (state_.compare_exchange_strong(expected, state::running, std::memory_order_relaxed)) {
        parker_.notify();
        return;
    }
    std::unique_lock<std::mutex> lock(control_);
    switch (state_.load(std::memory_order_relaxed)) {
        case state::running:
        case state::sleeping:
            return;
        case state::idle:
            try {
                start_locked();
            } catch (...) {
                // No thread (out of resources): write on the caller instead.
                state_.store(state::stopped, std::memory_order_relaxed);
                std::fputs("logbuf: cannot start the backend thread; writing on the caller\n",
                           stderr);
            }
            return;
        case state::stopped:
            lock.unlock();
            drain_here();
            return;
    }
}

void backend::start_locked() {
    if (!exit_hook_) {
        exit_hook_ = true;
        std::atexit(&backend::at_exit);
    }
    thread_ = new std::thread([this] { run(); });
    // Relaxed: a hint for the hot paths; control_ orders the rest.
    state_.store(state::running, std::memory_order_relaxed);
}

void backend::run() noexcept {
    name_this_thread();
    bool spin = false;  // spin before parking only right after some work
    bool stopping = false;
    clock::time_point last_work = clock::now();
    {
        // Under consumer_: a drain_here() still running on the thread that
        // shut the previous backend down restores backend_thread_ when it
        // ends, and must not overwrite our id with its saved one.
        const std::lock_guard<std::timed_mutex> lock(consumer_);
        // Relaxed: compared only by this thread (on_backend_thread()).
        backend_thread_.store(std::this_thread::get_id(), std::memory_order_relaxed);
        stop_requested_now_ = false;  // a stop request of an earlier thread
    }
    for (;;) {
        std::size_t written;
        {
            const std::lock_guard<std::timed_mutex> lock(consumer_);
            written = round();
            // A stop request completes once everything is written.
            stopping = stop_requested_now_;
        }
        if (stopping) break;
        if (written != 0) {
            spin = true;
            last_work = clock::time_point{};  // read the clock only when idle
            continue;
        }
        const auto poll = [this]() noexcept -> std::optional<bool> {
            if (anything_to_do()) return true;
            return std::nullopt;
        };
        if (spin) {
            spin = false;
            channel::details::backoff b;
            bool found = false;
            while (!b.is_completed() && !found) {
                b.snooze();
                found = poll().has_value();
            }
            if (found) continue;
        }
        const clock::time_point now = clock::now();
        if (last_work == clock::time_point{}) last_work = now;
        std::chrono::nanoseconds slice = park_slice(now);
        if (now - last_work >= fall_asleep_after) {
            state expected = state::running;
            // Relaxed: see fall_asleep_after for the (bounded) race.
            if (state_.compare_exchange_strong(expected, state::sleeping,
                                               std::memory_order_relaxed))
                slice = std::max(slice, std::min(deep_park, timer_slice(now)));
        }
        (void)parker_.park_unless(poll, slice);
        state expected = state::sleeping;
        // Relaxed: a hint for the hot paths.
        (void)state_.compare_exchange_strong(expected, state::running, std::memory_order_relaxed);
    }
    backend_thread_.store(std::thread::id{}, std::memory_order_relaxed);
}

std::size_t backend::round() noexcept {
    const std::uint64_t r = ++rounds_;
    // Acquire pairs with the release stores in add()/submit(); the
    // lock below orders incoming_ and requests_ themselves.
    if (control_pending_.exchange(false, std::memory_order_acquire)) {
        const clock::time_point now = clock::now();
        const std::lock_guard<std::mutex> lock(control_);
        for (auto& s : incoming_) {
            entry e;
            e.source = std::move(s);
            e.timer = e.source->on_timer(now);
            e.idle_sleep = e.source->idle_sleep();
            entries_.push_back(std::move(e));
        }
        incoming_.clear();
        for (auto& q : requests_) {
            q->taken_round = r;
            open_.push_back(std::move(q));
        }
        requests_.clear();
    }

    for (entry& e : entries_) {
        if (!e.next) e.next = e.source->peek();
        if (!e.next) e.empty_round = r;
    }

    // The merge: always the oldest head; from it, keep going while it stays
    // no later than the second oldest (one scan per run, not per record).
    std::size_t written = 0;
    while (written < round_batch) {
        entry* best = nullptr;
        backend_time second = std::numeric_limits<backend_time>::max();
        for (entry& e : entries_) {
            if (!e.next) continue;
            if (best == nullptr || *e.next < *best->next) {
                if (best != nullptr) second = std::min(second, *best->next);
                best = &e;
            } else {
                second = std::min(second, *e.next);
            }
        }
        if (best == nullptr) break;
        do {
            best->source->write_next();
            ++written;
            best->next = best->source->peek();
        } while (best->next && *best->next <= second && written < round_batch);
        if (!best->next) best->empty_round = r;
    }
    if (written != 0)
        // Relaxed: waiters compare it with an earlier value, nothing more.
        progress_.fetch_add(written, std::memory_order_relaxed);

    // Timers.
    clock::time_point now{};
    for (entry& e : entries_) {
        if (e.timer == clock::time_point::max()) continue;
        if (now == clock::time_point{}) now = clock::now();
        if (now >= e.timer) e.timer = e.source->on_timer(now);
    }

    // Requests: complete once every source has been seen empty since the
    // request was taken (or is well past its stamp).
    for (auto it = open_.begin(); it != open_.end();) {
        request& q = **it;
        const bool complete = std::all_of(entries_.begin(), entries_.end(), [&](const entry& e) {
            return e.empty_round >= q.taken_round || (e.next && *e.next > q.stamp + later_by);
        });
        if (!complete) {
            ++it;
            continue;
        }
        if (q.all_sinks)
            for (entry& e : entries_)
                e.source->flush_sinks();
        if (q.after) {
            try {
                q.after();
            } catch (...) {
                // after() is the caller's: it reports its own failures.
            }
        }
        {
            const std::lock_guard<std::mutex> lock(waiters_);
            q.done = true;
            // A shutdown() that gave up has left the thread running as far
            // as everyone else knows (state_, thread_): keep running.
            if (q.stop && !q.abandoned) stop_requested_now_ = true;
        }
        waiter_wake_.notify_all();
        progress_.fetch_add(1, std::memory_order_relaxed);  // relaxed: as above
        it = open_.erase(it);
    }

    // Retired sources go (their shared_ptr, and so the source, on this thread).
    std::erase_if(entries_, [](entry& e) { return !e.next && e.source->retired(); });
    return written;
}

bool backend::anything_to_do() noexcept {
    // Acquire: as in round().
    if (control_pending_.load(std::memory_order_acquire)) return true;
    const std::lock_guard<std::timed_mutex> lock(consumer_);
    clock::time_point now{};
    for (entry& e : entries_) {
        if (!e.next) e.next = e.source->peek();
        if (e.next) return true;
        if (e.timer != clock::time_point::max()) {
            if (now == clock::time_point{}) now = clock::now();
            if (now >= e.timer) return true;
        }
    }
    return false;
}

std::chrono::nanoseconds backend::timer_slice(clock::time_point now) noexcept {
    return slice_until(now, false);
}

std::chrono::nanoseconds backend::park_slice(clock::time_point now) noexcept {
    return slice_until(now, true);
}

std::chrono::nanoseconds backend::slice_until(clock::time_point now,
                                              bool with_idle_sleep) noexcept {
    const std::lock_guard<std::timed_mutex> lock(consumer_);
    std::chrono::nanoseconds slice = longest_park;
    for (const entry& e : entries_) {
        if (with_idle_sleep) slice = std::min(slice, e.idle_sleep);
        if (e.timer != clock::time_point::max())
            slice = std::min<std::chrono::nanoseconds>(
                slice, std::max<clock::duration>(e.timer - now, clock::duration::zero()));
    }
    return std::max(slice, std::chrono::nanoseconds(1));
}

void backend::drain_here() noexcept {
    // Not recursive: a sink that logs while we write here finds the lock
    // taken and leaves its record for the loop below.
    std::unique_lock<std::timed_mutex> lock(consumer_, std::try_to_lock);
    if (!lock.owns_lock()) return;
    const std::thread::id before = backend_thread_.load(std::memory_order_relaxed);
    // Relaxed: read back only by this thread (on_backend_thread()).
    backend_thread_.store(std::this_thread::get_id(), std::memory_order_relaxed);
    while (round() != 0) {
    }
    backend_thread_.store(before, std::memory_order_relaxed);
}

void backend::notify_waiters() noexcept {
    // The lock makes "publish, then notify" race-free against a waiter
    // between its check of done() and its sleep.
    { const std::lock_guard<std::mutex> lock(waiters_); }
    waiter_wake_.notify_all();
}

bool backend::submit(std::shared_ptr<request> q, std::chrono::nanoseconds no_progress) noexcept {
    q->stamp = system_now();
    {
        const std::lock_guard<std::mutex> lock(control_);
        requests_.push_back(q);
        // Release: as in add().
        control_pending_.store(true, std::memory_order_release);
        if (state_.load(std::memory_order_relaxed) == state::idle) {
            try {
                start_locked();
            } catch (...) {
                state_.store(state::stopped, std::memory_order_relaxed);
            }
        }
    }
    wake();
    return wait([&q] { return q->done; }, no_progress);
}

bool backend::flush(std::function<void()> after, std::chrono::nanoseconds no_progress) noexcept {
    if (on_backend_thread()) {
        if (after) {
            try {
                after();
            } catch (...) {
            }
        }
        return true;
    }
    try {
        auto q = std::make_shared<request>();
        q->after = std::move(after);
        return submit(std::move(q), no_progress);
    } catch (const std::bad_alloc&) {
        return false;
    }
}

bool backend::flush_all_sinks(std::chrono::nanoseconds no_progress) noexcept {
    if (on_backend_thread()) return true;  // cannot flush the sinks it is inside of
    try {
        auto q = std::make_shared<request>();
        q->all_sinks = true;
        return submit(std::move(q), no_progress);
    } catch (const std::bad_alloc&) {
        return false;
    }
}

bool backend::shutdown() noexcept {
    if (on_backend_thread()) return false;
    std::thread* t = nullptr;
    {
        std::unique_lock<std::mutex> lock(control_);
        // Relaxed: read under control_, the mutex every store of state_
        // that starts or stops the thread is made under.
        const state st = state_.load(std::memory_order_relaxed);
        if (st != state::running && st != state::sleeping) {
            lock.unlock();
            drain_here();
            return true;
        }
    }
    std::shared_ptr<request> q;
    try {
        q = std::make_shared<request>();
    } catch (const std::bad_alloc&) {
        return false;
    }
    q->all_sinks = true;
    q->stop = true;
    if (!submit(q, no_progress_limit)) {
        // A sink is stuck: leave the thread to it, and tell it not to stop
        // once the sink comes back (nobody would join it, and the state
        // would say running with no thread: later records never written).
        // Unless it completed the request since wait() gave up.
        const std::lock_guard<std::mutex> lock(waiters_);
        if (!q->done) {
            q->abandoned = true;
            return false;
        }
    }
    {
        const std::lock_guard<std::mutex> lock(control_);
        t = std::exchange(thread_, nullptr);
        // Relaxed: under control_, which orders it for every reader that
        // starts or stops the thread; lock-free readers only use it as a hint.
        state_.store(state::idle, std::memory_order_relaxed);
    }
    if (t != nullptr) {
        t->join();  // it has completed the stop request: it is ending
        delete t;
    }
    // Anything committed since the stop request completed.
    drain_here();
    return true;
}

void backend::at_exit() noexcept {
    backend& b = instance();
    (void)b.shutdown();
    // From now on whoever commits writes (loggers destroyed during static
    // destruction, log calls from threads still running).
    const std::lock_guard<std::mutex> lock(b.control_);
    if (b.thread_ == nullptr) b.state_.store(state::stopped, std::memory_order_relaxed);
}

// fork(): before, write what is committed and flush every sink (a stdio
// buffer copied into the child would be written twice); take the locks so
// that the child inherits none half-held.
void backend::prepare_fork() noexcept {
    backend& b = instance();
    const state st = b.state_.load(std::memory_order_relaxed);
    if ((st == state::running || st == state::sleeping) && !b.on_backend_thread())
        (void)b.flush_all_sinks();
    b.fork_has_consumer_ = b.consumer_.try_lock_for(no_progress_limit);
    b.control_.lock();
    b.waiters_.lock();
}

void backend::parent_after_fork() noexcept {
    backend& b = instance();
    b.waiters_.unlock();
    b.control_.unlock();
    if (b.fork_has_consumer_) b.consumer_.unlock();
}

void backend::child_after_fork() noexcept {
    backend& b = instance();
    b.waiters_.unlock();
    b.control_.unlock();
    if (b.fork_has_consumer_) {
        b.consumer_.unlock();
    } else {
        // The parent's backend was inside a sink and stayed there: its lock
        // (and perhaps the sink's) is held by a thread the child does not have.
        new (&b.consumer_) std::timed_mutex();
        std::fputs(
            "logbuf: fork() while the backend was stuck in a sink; the child's "
            "logging may block in that sink\n",
            stderr);
    }
    // The parent's thread does not exist here: forget it (never join or
    // destroy it: a joinable std::thread's destructor terminates). Kept
    // reachable, not leaked.
    if (b.thread_ != nullptr) b.forgotten_thread_ = std::exchange(b.thread_, nullptr);
    b.state_.store(state::idle, std::memory_order_relaxed);
    b.backend_thread_.store(std::thread::id{}, std::memory_order_relaxed);
    b.stop_requested_now_ = false;
    // Requests of parent threads: nobody waits for them here.
    b.requests_.clear();
    b.open_.clear();
    for (entry& e : b.entries_) {
        e.next.reset();
        e.source->after_fork_in_child();
    }
    for (auto& s : b.incoming_)
        s->after_fork_in_child();
}

}  // namespace logbuf::details
