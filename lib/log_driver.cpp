// The thread that runs log_source (log_driver.hpp).
#include "log_driver.hpp"

#include "log_source.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#include <pthread.h>

namespace logbuf::log::details::driver {

namespace {

constexpr std::size_t poll_budget = 256;
constexpr auto idle_sleep = std::chrono::milliseconds(1);
constexpr auto flush_patience = std::chrono::milliseconds(100);

thread_local bool in_backend = false;

struct state {
    std::mutex mutex;                 // guards everything below but `stopped`
    std::condition_variable wake;     // the backend waits here when idle
    std::condition_variable flushed;  // flush() callers wait here
    std::thread thread;
    bool running = false;
    bool stop = false;
    bool hooks = false;
    std::uint64_t requested = 0;  // flush tickets issued
    std::uint64_t done = 0;       // flush tickets served
    // Held by the backend while it works: fork waits for it (so the child
    // never inherits a sink mutex held half-way through a write).
    std::mutex work;
    std::atomic<bool> stopped{false};
};

state& the() {
    static state* const s = new state();  // never destroyed (see log_source)
    return *s;
}

void run() {
    in_backend = true;
    state& s = the();
    log_source& source = log_source::instance();
    std::unique_lock<std::mutex> lock(s.mutex);
    for (;;) {
        const std::uint64_t wanted = s.requested;
        const std::uint64_t served = s.done;
        const bool stopping = s.stop;
        lock.unlock();
        std::size_t n;
        {
            const std::lock_guard<std::mutex> working(s.work);
            n = source.poll(poll_budget);
            if (wanted > served || stopping) source.drain_and_flush();
        }
        lock.lock();
        if (wanted > s.done) {
            s.done = wanted;
            s.flushed.notify_all();
        }
        if (stopping) break;
        if (n == 0 && s.requested == s.done && !s.stop) s.wake.wait_for(lock, idle_sleep);
    }
    s.running = false;
    s.flushed.notify_all();
}

void before_fork() {
    state& s = the();
    flush();
    s.work.lock();
    log_source::instance().lock();
    s.mutex.lock();
}

void in_parent() {
    state& s = the();
    s.mutex.unlock();
    log_source::instance().unlock();
    s.work.unlock();
}

void in_child() {
    state& s = the();
    // The backend thread did not come along; a new one starts on demand.
    s.thread.detach();
    s.running = false;
    s.stop = false;
    s.requested = s.done = 0;
    s.mutex.unlock();
    log_source::instance().after_fork_child();
    log_source::instance().unlock();
    s.work.unlock();
}

void at_exit() {
    shutdown();
}

}  // namespace

void ensure_started() {
    state& s = the();
    const std::lock_guard<std::mutex> lock(s.mutex);
    if (s.running || s.stopped.load(std::memory_order_relaxed)) return;
    if (!s.hooks) {
        s.hooks = true;
        pthread_atfork(before_fork, in_parent, in_child);
        std::atexit(at_exit);
    }
    if (s.thread.joinable()) s.thread.join();
    s.running = true;
    s.thread = std::thread(run);
}

bool flush() noexcept {
    state& s = the();
    if (in_backend) {
        log_source::instance().drain_and_flush();
        return true;
    }
    try {
        ensure_started();
        std::unique_lock<std::mutex> lock(s.mutex);
        if (!s.running) return false;
        const std::uint64_t ticket = ++s.requested;
        s.wake.notify_one();
        std::uint64_t seen = log_source::instance().written();
        while (s.done < ticket && s.running) {
            if (s.flushed.wait_for(lock, flush_patience) == std::cv_status::timeout) {
                const std::uint64_t now = log_source::instance().written();
                if (now == seen) {
                    std::fputs("logbuf: flush() gave up: the backend made no progress for 100 ms\n",
                               stderr);
                    return false;
                }
                seen = now;
            }
        }
        return true;
    } catch (...) {
        return false;
    }
}

void wake() noexcept {
    the().wake.notify_one();
}

bool on_backend_thread() noexcept {
    return in_backend;
}

void shutdown() noexcept {
    state& s = the();
    std::unique_lock<std::mutex> lock(s.mutex);
    s.stopped.store(true, std::memory_order_relaxed);
    if (!s.running || in_backend) return;
    s.stop = true;
    s.wake.notify_one();
    std::thread t = std::move(s.thread);
    lock.unlock();
    if (t.joinable()) t.join();
}

bool stopped() noexcept {
    // Relaxed: callers only decide whether to give up waiting.
    return the().stopped.load(std::memory_order_relaxed);
}

}  // namespace logbuf::log::details::driver
