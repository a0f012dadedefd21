// logbuf::log on the shared backend (log_source.hpp).
#include "log_source.hpp"

#include <logbuf/log/details/args.hpp>
#include <logbuf/log/details/record_header.hpp>
#include <logbuf/log/details/ticks.hpp>

#include <spdlog/details/log_msg.h>
#include <spdlog/details/os.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string_view>

namespace logbuf::log::details {

namespace {

using logbuf::details::backend;
using logbuf::details::backend_time;

// One logging thread's ring, as the backend drains it.
class ring_source final : public logbuf::details::backend_source {
  public:
    explicit ring_source(std::shared_ptr<thread_ring> ring) noexcept : ring_(std::move(ring)) {}

    std::optional<backend_time> peek() noexcept override {
        if (forgotten_) return std::nullopt;
        if (!head_) {
            head_ = ring_->consumer.try_claim();
            if (!head_) return std::nullopt;
            record_header h;
            std::memcpy(&h, head_.data(), sizeof h);
            head_ns_ = std::chrono::duration_cast<std::chrono::nanoseconds>(
                           front_end::instance().clock().to_time(h.time).time_since_epoch())
                           .count();
        }
        return head_ns_;
    }

    void write_next() noexcept override {
        if (!head_) return;
        front_end::instance().write(*ring_, head_.data());
        head_.release();
    }

    bool retired() noexcept override {
        if (forgotten_) return true;
        // Acquire pairs with the release store when the thread retired the
        // ring: every record it committed before is visible to the peek.
        return ring_->retired.load(std::memory_order_acquire) && !peek();
    }

    void after_fork_in_child() noexcept override {
        // The parent writes what this ring holds; the child never will. Its
        // one thread (the one that forked) makes a new ring at its next call.
        forgotten_ = true;
        head_ = queue::read_claim{};
        current_ring = nullptr;
    }

  private:
    std::shared_ptr<thread_ring> ring_;
    queue::read_claim head_;  // the record peek() announced
    backend_time head_ns_ = 0;
    bool forgotten_ = false;
};

// No records of its own: flushes every logger's sinks when the backend asks
// (before fork, at exit, flush_all) and does the periodic work.
class loggers_source final : public logbuf::details::backend_source {
  public:
    std::optional<backend_time> peek() noexcept override { return std::nullopt; }
    void write_next() noexcept override {}
    bool retired() noexcept override { return false; }
    void flush_sinks() noexcept override { front_end::instance().flush_every_logger(); }
    std::chrono::steady_clock::time_point on_timer(
        std::chrono::steady_clock::time_point now) noexcept override {
        front_end::instance().periodic();
        return now + std::chrono::milliseconds(100);
    }
    void after_fork_in_child() noexcept override { front_end::instance().after_fork_in_child(); }
};

}  // namespace

front_end& front_end::instance() {
    // Never destroyed: loggers and rings may outlive every static destructor.
    static front_end* const f = new front_end();
    return *f;
}

front_end::front_end() {
    backend::instance().add(std::make_shared<loggers_source>());
}

std::shared_ptr<thread_ring> front_end::attach(std::size_t min_capacity) {
    const std::size_t capacity = std::max(min_capacity, min_ring_capacity);
    auto ends = queue::spsc::make(capacity);
    auto ring = std::make_shared<thread_ring>(ends.first.capacity(),
                                              spdlog::details::os::thread_id(), std::move(ends));
    backend::instance().add(std::make_shared<ring_source>(ring));
    return ring;
}

void front_end::add_logger(logger* l) {
    const std::lock_guard<std::mutex> lock(mutex_);
    loggers_.push_back(l);
}

void front_end::destroy(logger* l) noexcept {
    {
        const std::lock_guard<std::mutex> lock(mutex_);
        loggers_.erase(std::remove(loggers_.begin(), loggers_.end(), l), loggers_.end());
    }
    // after() runs on the backend once every record committed before is
    // written: none can point at the logger any more. If the flush gives up
    // (no progress), it still runs later, and the logger lives until then.
    const bool done = backend::instance().flush([l] {
        auto& f = front_end::instance();
        f.report_drops(*l);
        f.flush_sinks(*l);
        logger_access::destroy(l);
    });
    if (!done)
        std::fputs(
            "logbuf: a logger's destructor gave up waiting: the backend made no progress "
            "for 100 ms; its lines are written later\n",
            stderr);
}

bool front_end::flush(logger& l) noexcept {
    const bool done = backend::instance().flush([&l] {
        auto& f = front_end::instance();
        f.report_drops(l);
        f.flush_sinks(l);
    });
    if (!done)
        std::fputs("logbuf: flush() gave up: the backend made no progress for 100 ms\n", stderr);
    return done;
}

void front_end::silence_all() noexcept {
    const std::lock_guard<std::mutex> lock(mutex_);
    for (logger* l : loggers_)
        logger_access::silence(*l);
}

void front_end::write(const thread_ring& ring, const std::byte* record) noexcept {
    record_header h;
    std::memcpy(&h, record, sizeof h);
    const logger& owner = *h.owner;
    const auto level = static_cast<spdlog::level::level_enum>(h.level);
    const fmt::string_view format(h.format, h.format_size);
    text_.clear();
    try {
        h.decode(record + header_size, format, text_);
    } catch (const std::exception& e) {
        text_.clear();
        fmt::format_to(fmt::appender(text_), "[logbuf: format error: {}] {}", e.what(),
                       std::string_view(format.data(), format.size()));
    }
    // Never earlier than the line before: a recalibration may move the
    // conversion back by a few nanoseconds, and lines go out in time order.
    last_time_ = std::max(last_time_, clock_.to_time(h.time));
    const std::string& name = logger_access::name(owner);
    spdlog::details::log_msg msg(last_time_, h.source != nullptr ? *h.source : spdlog::source_loc{},
                                 spdlog::string_view_t(name.data(), name.size()), level,
                                 spdlog::string_view_t(text_.data(), text_.size()));
    msg.thread_id = static_cast<std::size_t>(ring.thread_id);
    for (const spdlog::sink_ptr& sink : logger_access::sinks(owner)) {
        if (!sink->should_log(level)) continue;
        try {
            sink->log(msg);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "logbuf: sink of logger '%s' threw: %s\n", name.c_str(), e.what());
        } catch (...) {
            std::fprintf(stderr, "logbuf: sink of logger '%s' threw\n", name.c_str());
        }
    }
}

void front_end::periodic() noexcept {
    clock_.recalibrate();
    const std::lock_guard<std::mutex> lock(mutex_);
    for (logger* l : loggers_)
        report_drops(*l);
}

void front_end::flush_every_logger() noexcept {
    const std::lock_guard<std::mutex> lock(mutex_);
    for (logger* l : loggers_) {
        report_drops(*l);
        flush_sinks(*l);
    }
}

void front_end::report_drops(logger& l) noexcept {
    std::uint64_t& reported = logger_access::drops_reported(l);
    const std::uint64_t total = l.dropped();
    if (total == reported) return;
    const std::uint64_t n = total - reported;
    reported = total;
    try {
        const std::string text = fmt::format(
            "logbuf: dropped {} message{} (ring full or shut down)", n, n == 1 ? "" : "s");
        const std::string& name = logger_access::name(l);
        const spdlog::details::log_msg msg(spdlog::source_loc{},
                                           spdlog::string_view_t(name.data(), name.size()),
                                           spdlog::level::warn, text);
        for (const spdlog::sink_ptr& sink : logger_access::sinks(l))
            if (sink->should_log(spdlog::level::warn)) sink->log(msg);
    } catch (...) {
        std::fputs("logbuf: could not report dropped messages\n", stderr);
    }
}

void front_end::flush_sinks(const logger& l) noexcept {
    for (const spdlog::sink_ptr& sink : logger_access::sinks(l)) {
        try {
            sink->flush();
        } catch (...) {
            std::fprintf(stderr, "logbuf: flushing a sink of logger '%s' threw\n",
                         logger_access::name(l).c_str());
        }
    }
}

void front_end::after_fork_in_child() noexcept {
    // A thread of the parent may have held the mutex at the fork; no thread
    // of the child does. (The list it guards was not being changed: fork
    // happened under the backend's prepare handler, with loggers made and
    // destroyed only by threads that do not exist here.)
    new (&mutex_) std::mutex();
    current_ring = nullptr;
}

}  // namespace logbuf::log::details
