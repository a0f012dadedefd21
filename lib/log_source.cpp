// The backend half of logbuf::log (log_source.hpp).
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
#include <string_view>

namespace logbuf::log::details {

log_source& log_source::instance() {
    // Never destroyed: loggers and thread rings may outlive every static
    // destructor; the process-exit drain runs from the backend's atexit hook.
    static log_source* const source = new log_source();
    return *source;
}

std::shared_ptr<thread_ring> log_source::attach(std::size_t min_capacity) {
    const std::size_t capacity = std::max(min_capacity, min_ring_capacity);
    auto ends = queue::spsc::make(capacity);
    auto ring = std::make_shared<thread_ring>(ends.first.capacity(),
                                              spdlog::details::os::thread_id(), std::move(ends));
    const std::lock_guard<std::mutex> lock(mutex_);
    pending_.push_back(ring);
    // Relaxed: a hint; take_handovers() reads pending_ under the mutex.
    handover_.store(true, std::memory_order_relaxed);
    return ring;
}

void log_source::add_logger(logger* l) {
    const std::lock_guard<std::mutex> lock(mutex_);
    loggers_.push_back(l);
}

void log_source::retire(logger* l) noexcept {
    const std::uint64_t after = ticks_after_prior();
    const std::lock_guard<std::mutex> lock(mutex_);
    loggers_.erase(std::remove(loggers_.begin(), loggers_.end(), l), loggers_.end());
    retire_requests_.push_back({l, after});
    handover_.store(true, std::memory_order_relaxed);  // a hint (see attach)
}

void log_source::take_handovers() noexcept {
    // Relaxed: a missed hint is seen on the next poll.
    if (!handover_.load(std::memory_order_relaxed)) return;
    const std::lock_guard<std::mutex> lock(mutex_);
    handover_.store(false, std::memory_order_relaxed);
    for (auto& ring : pending_)
        rings_.push_back(ring_state{std::move(ring), {}, 0});
    pending_.clear();
    retiring_.insert(retiring_.end(), retire_requests_.begin(), retire_requests_.end());
    retire_requests_.clear();
}

bool log_source::fill(ring_state& s) noexcept {
    if (s.head) return true;
    s.head = s.ring->consumer.try_claim();
    if (!s.head) return false;
    record_header h;
    std::memcpy(&h, s.head.data(), sizeof h);
    s.head_time = h.time;
    return true;
}

std::size_t log_source::merge(std::size_t budget, std::uint64_t until, bool& exhausted) noexcept {
    exhausted = false;
    std::size_t written = 0;
    while (written < budget) {
        // The oldest record any ring holds. A handful of rings: a scan beats
        // a heap, and a ring that was empty is looked at again each time.
        ring_state* oldest = nullptr;
        for (ring_state& s : rings_)
            if (fill(s) && (oldest == nullptr || s.head_time < oldest->head_time)) oldest = &s;
        if (oldest == nullptr || oldest->head_time > until) {
            exhausted = true;
            break;
        }
        write(*oldest);
        oldest->head.release();
        ++written;
        // Relaxed, and a plain load + store: the backend is the only writer.
        written_.store(written_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
    return written;
}

void log_source::write(const ring_state& s) noexcept {
    const std::byte* record = s.head.data();
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
    const std::string& name = logger_access::name(owner);
    // Never earlier than the line before: a recalibration may move the
    // conversion back by a few nanoseconds, and lines go out in tick order.
    last_time_ = std::max(last_time_, clock_.to_time(h.time));
    spdlog::details::log_msg msg(last_time_, h.source != nullptr ? *h.source : spdlog::source_loc{},
                                 spdlog::string_view_t(name.data(), name.size()), level,
                                 spdlog::string_view_t(text_.data(), text_.size()));
    msg.thread_id = static_cast<std::size_t>(s.ring->thread_id);
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

void log_source::sweep() noexcept {
    // Rings whose thread is gone and whose records are all written. The
    // acquire load pairs with the release store at retirement: every record
    // committed before it is visible to the try_claim that follows.
    std::erase_if(rings_, [this](ring_state& s) {
        if (s.head || !s.ring->retired.load(std::memory_order_acquire)) return false;
        return !fill(s);
    });
    // Loggers none of whose records can be left: every ring is empty, or
    // its oldest record is younger than the logger's retirement.
    if (retiring_.empty()) return;
    std::uint64_t oldest = UINT64_MAX;
    for (ring_state& s : rings_)
        if (fill(s)) oldest = std::min(oldest, s.head_time);
    std::erase_if(retiring_, [&](const retired_logger& r) {
        if (r.after >= oldest) return false;
        flush_sinks(*r.owner);
        logger_access::destroy(r.owner);
        return true;
    });
}

std::size_t log_source::poll(std::size_t budget) noexcept {
    take_handovers();
    bool exhausted = false;
    const std::size_t written = merge(budget, UINT64_MAX, exhausted);
    if (exhausted) sweep();
    periodic();
    return written;
}

void log_source::periodic() noexcept {
    const std::uint64_t now = ticks();
    if (now < next_periodic_) return;
    next_periodic_ = now + static_cast<std::uint64_t>(100e6 / clock_.ns_per_tick());
    clock_.recalibrate();
    const std::lock_guard<std::mutex> lock(mutex_);
    for (logger* l : loggers_)
        report_drops(*l);
}

void log_source::drain_and_flush() noexcept {
    // Everything logged before the flush was called carries an older tick
    // (the caller's lfence'd read comes after its own earlier calls; other
    // threads' calls that happened before it are older still).
    const std::uint64_t until = ticks_after_prior();
    take_handovers();
    bool exhausted = false;
    while (!exhausted)
        merge(SIZE_MAX, until, exhausted);
    sweep();
    const std::lock_guard<std::mutex> lock(mutex_);
    for (logger* l : loggers_) {
        report_drops(*l);
        flush_sinks(*l);
    }
}

void log_source::report_drops(logger& l) noexcept {
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

void log_source::flush_sinks(const logger& l) noexcept {
    for (const spdlog::sink_ptr& sink : logger_access::sinks(l)) {
        try {
            sink->flush();
        } catch (...) {
            std::fprintf(stderr, "logbuf: flushing a sink of logger '%s' threw\n",
                         logger_access::name(l).c_str());
        }
    }
}

void log_source::silence_all() noexcept {
    const std::lock_guard<std::mutex> lock(mutex_);
    for (logger* l : loggers_)
        logger_access::silence(*l);
}

void log_source::after_fork_child() noexcept {
    // The parent's backend writes (or wrote) every record in these rings;
    // the child must not write them again. Its rings are discarded, and the
    // forking thread (the child's only one) starts a new ring at its next
    // call. Generations tell the thread-exit hook a stale ring from a live one.
    for (ring_state& s : rings_)
        s.head = queue::read_claim{};
    rings_.clear();
    pending_.clear();
    current_ring = nullptr;
    for (const retired_logger& r : retiring_)
        logger_access::destroy(r.owner);
    retiring_.clear();
    for (const retired_logger& r : retire_requests_)
        logger_access::destroy(r.owner);
    retire_requests_.clear();
}

}  // namespace logbuf::log::details
