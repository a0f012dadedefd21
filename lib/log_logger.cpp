// logbuf::log::logger's cold paths: making and destroying loggers, the
// caller-side formatting fallback, a full ring, a thread's first call,
// truncation, flush and shutdown.
#include "backend.hpp"
#include "log_source.hpp"
#include "spdlog_record.hpp"

#include <logbuf/channel/details/backoff.hpp>
#include <logbuf/log/logger.hpp>

#include <spdlog/details/os.h>

#include <atomic>
#include <charconv>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string_view>

namespace logbuf::log {

namespace {

// The level a shut-down logger has: above off, so every call fails the
// level check and takes the counting branch.
constexpr int silenced = spdlog::level::n_levels;

std::atomic<bool> shut_down{false};

// A thread's ring lives as long as the thread or the backend needs it; this
// holder marks it retired when the thread exits.
struct ring_holder {
    std::shared_ptr<details::thread_ring> ring;
    ~ring_holder() { retire(); }
    void retire() noexcept {
        if (!ring) return;
        // Release pairs with the acquire in ring_source::retired() (log_source.cpp): every
        // record this thread committed is visible once this is.
        ring->retired.store(true, std::memory_order_release);
        ring.reset();
        details::current_ring = nullptr;
    }
};
thread_local ring_holder holder;

}  // namespace

namespace details {

thread_ring::thread_ring(std::size_t capacity_, std::uint64_t thread_id_,
                         std::pair<queue::spsc::producer, queue::spsc::consumer> ends)
    : producer(std::move(ends.first)),
      capacity(capacity_),
      max_record(ends.second.capacity() / 4),
      thread_id(thread_id_),
      consumer(std::move(ends.second)) {}

thread_ring* attach_this_thread(std::size_t min_capacity) noexcept {
    try {
        auto ring = front_end::instance().attach(min_capacity);
        holder.retire();  // the smaller ring, if any: the backend drains it first
        holder.ring = std::move(ring);
        current_ring = holder.ring.get();
        return current_ring;
    } catch (...) {
        return nullptr;
    }
}

std::size_t marker_reserve() noexcept {
    return logbuf::details::record::truncation_reserve;
}

std::size_t keep_length(std::string_view s, std::size_t room) noexcept {
    if (s.size() <= room) return s.size();
    std::size_t keep = room;
    // Back up over UTF-8 continuation bytes (10xxxxxx): never split a character.
    for (int i = 0; i < 3 && keep > 0 && (static_cast<unsigned char>(s[keep]) & 0xC0u) == 0x80u;
         ++i)
        --keep;
    return keep;
}

std::size_t marker_size(std::size_t cut) noexcept {
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof digits, cut).ptr;
    return logbuf::details::record::truncation_open.size() +
           static_cast<std::size_t>(end - digits) +
           logbuf::details::record::truncation_close.size();
}

std::byte* write_marker(std::byte* out, std::size_t cut) noexcept {
    using logbuf::details::record::truncation_close;
    using logbuf::details::record::truncation_open;
    std::memcpy(out, truncation_open.data(), truncation_open.size());
    out += truncation_open.size();
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof digits, cut).ptr;
    const auto n = static_cast<std::size_t>(end - digits);
    std::memcpy(out, digits, n);
    out += n;
    std::memcpy(out, truncation_close.data(), truncation_close.size());
    return out + truncation_close.size();
}

void logger_access::silence(logger& l) noexcept {
    // Relaxed: see should_log().
    l.level_.store(silenced, std::memory_order_relaxed);
}

}  // namespace details

logger::logger(passkey, std::string name, std::vector<spdlog::sink_ptr> sinks,
               const logger_options& options)
    : level_(static_cast<int>(options.level)),
      options_(options),
      name_(std::move(name)),
      sinks_(std::move(sinks)) {}

logger::~logger() = default;

std::shared_ptr<logger> make_logger(std::string name, std::vector<spdlog::sink_ptr> sinks,
                                    logger_options options) {
    for (const auto& sink : sinks)
        if (!sink) throw std::invalid_argument("logbuf::log::make_logger: a sink is null");
    if (options.ring_capacity == 0)
        throw std::invalid_argument("logbuf::log::make_logger: ring_capacity is zero");
    if (options.ring_capacity > (std::size_t{1} << 40))
        throw std::invalid_argument("logbuf::log::make_logger: ring_capacity above 1 TiB");
    if (static_cast<int>(options.level) < 0 ||
        static_cast<int>(options.level) > static_cast<int>(spdlog::level::off))
        throw std::invalid_argument("logbuf::log::make_logger: not a level");
    auto& front = details::front_end::instance();
    auto* raw = new logger(logger::passkey{}, std::move(name), std::move(sinks), options);
    // Relaxed: a flag with no data behind it (see shutdown()). A logger made
    // while shutdown() runs may miss it and is then not silenced.
    if (shut_down.load(std::memory_order_relaxed)) details::logger_access::silence(*raw);
    front.add_logger(raw);
    // The deleter: everything this logger logged reaches the sinks first;
    // the backend frees the object once no record can point at it.
    return std::shared_ptr<logger>(raw,
                                   [](logger* l) { details::front_end::instance().destroy(l); });
}

std::shared_ptr<logger> make_logger(std::string name, spdlog::sink_ptr sink,
                                    logger_options options) {
    if (!sink) throw std::invalid_argument("logbuf::log::make_logger: the sink is null");
    return make_logger(std::move(name), std::vector<spdlog::sink_ptr>{std::move(sink)}, options);
}

void logger::write_formatted(const spdlog::source_loc* where, level_enum level, fmt::string_view f,
                             fmt::format_args args) noexcept {
    // One buffer per thread, grown to the longest message it formatted.
    thread_local fmt::memory_buffer text;
    text.clear();
    try {
        fmt::vformat_to(fmt::appender(text), f, args);
    } catch (const std::exception& e) {
        text.clear();
        try {
            fmt::format_to(fmt::appender(text), "[logbuf: format error: {}] {}", e.what(),
                           std::string_view(f.data(), f.size()));
        } catch (...) {
            return count_drop();
        }
    } catch (...) {
        return count_drop();
    }
    write(where, level, "{}", std::string_view(text.data(), text.size()));
}

queue::write_claim logger::wait_for_room(details::thread_ring& ring, std::size_t size) noexcept {
    // A sink that logs through a logbuf logger runs on the backend thread,
    // which cannot wait for itself to make room.
    auto& backend = logbuf::details::backend::instance();
    if (options_.overflow == overflow_policy::drop || backend.on_backend_thread()) {
        count_drop();
        return queue::write_claim(errc::full);
    }
    channel::details::backoff wait;
    for (;;) {
        // Wakes a parked backend; once the backend has stopped (process
        // exit), writes what is committed on this thread.
        backend.wake();
        wait.snooze();
        queue::write_claim claim = ring.producer.try_claim(size);
        if (claim) return claim;
        if (shut_down.load(std::memory_order_relaxed)) break;  // nobody will make room
    }
    count_drop();
    return queue::write_claim(errc::disconnected);
}

void logger::flush() noexcept {
    // After shutdown(): nothing can have been logged since it wrote everything.
    if (shut_down.load(std::memory_order_relaxed)) return;
    details::front_end::instance().flush(*this);
}

void logger::set_level(level_enum level) noexcept {
    if (shut_down.load(std::memory_order_relaxed)) return;
    // Relaxed: see should_log().
    level_.store(static_cast<int>(level), std::memory_order_relaxed);
}

logger::level_enum logger::level() const noexcept {
    const int l = level_.load(std::memory_order_relaxed);
    return l >= silenced ? spdlog::level::off : static_cast<level_enum>(l);
}

bool logger::is_shut_down() noexcept {
    // Relaxed: only picks the branch that counts a dropped call.
    return shut_down.load(std::memory_order_relaxed);
}

void flush_all() {
    if (!logbuf::details::backend::instance().flush_all_sinks())
        std::fputs("logbuf: flush_all() gave up: the backend made no progress for 100 ms\n",
                   stderr);
}

void shutdown() {
    // Relaxed: a flag for later calls; the loggers are silenced under the
    // front end's mutex, and the backend's stop orders everything after.
    shut_down.store(true, std::memory_order_relaxed);
    details::front_end::instance().silence_all();
    logbuf::details::backend::instance().shutdown();
}

}  // namespace logbuf::log
