// logbuf/log/logger.hpp - logbuf::log::logger: spdlog's call syntax, fmt's
// compile-time format checks, and formatting on the backend thread.
//
//   auto log = logbuf::log::make_logger("orders", file_sink);
//   log->info("order {} filled qty {} px {:.2f}", id, qty, px);
//
// A call checks the level, reads the TSC, claims a record in its thread's
// ring, copies the arguments in binary and commits: no formatting, no
// allocation (after the thread's first call), no syscall, no exception.
// The record names a decoder chosen at compile time from the argument types;
// the backend thread decodes, formats with fmt and hands the line to the
// sinks, which print it with their own patterns. Arguments that cannot be
// copied safely are formatted on the caller (args.hpp says which).
// docs/logging.md has the whole story.
#pragma once

#include <logbuf/log/copy_loggable.hpp>
#include <logbuf/log/details/args.hpp>
#include <logbuf/log/details/record_header.hpp>
#include <logbuf/log/details/thread_ring.hpp>
#include <logbuf/log/details/ticks.hpp>
#include <logbuf/log/details/truncation.hpp>
#include <logbuf/log/logger_options.hpp>

#include <fmt/format.h>
#include <spdlog/common.h>
#include <spdlog/sinks/sink.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace logbuf::log {

class logger;
namespace details {
class logger_access;  // the backend's view of a logger (lib/log_source.hpp)
}

// A logger writing to `sinks`, which keep their own patterns (spdlog's
// registry is not involved). Throws std::invalid_argument for a null sink or
// a zero ring_capacity. The logger is thread-safe. Destroying the last
// shared_ptr waits, as flush() does, until its lines are in the sinks.
std::shared_ptr<logger> make_logger(std::string name, std::vector<spdlog::sink_ptr> sinks,
                                    logger_options options = {});
std::shared_ptr<logger> make_logger(std::string name, spdlog::sink_ptr sink,
                                    logger_options options = {});

// flush() for every logger.
void flush_all();

// Writes everything logged so far, flushes the sinks and stops the backend.
// Log calls made after it are dropped and counted in dropped(). A normal
// process exit does the same.
void shutdown();

class logger {
    struct passkey {};

  public:
    using level_enum = spdlog::level::level_enum;

    logger(passkey, std::string name, std::vector<spdlog::sink_ptr> sinks,
           const logger_options& options);
    logger(const logger&) = delete;
    logger& operator=(const logger&) = delete;

    template <class... Args>
    void trace(fmt::format_string<Args...> format, Args&&... args) noexcept {
        log_from(nullptr, spdlog::level::trace, format, std::forward<Args>(args)...);
    }
    template <class... Args>
    void debug(fmt::format_string<Args...> format, Args&&... args) noexcept {
        log_from(nullptr, spdlog::level::debug, format, std::forward<Args>(args)...);
    }
    template <class... Args>
    void info(fmt::format_string<Args...> format, Args&&... args) noexcept {
        log_from(nullptr, spdlog::level::info, format, std::forward<Args>(args)...);
    }
    template <class... Args>
    void warn(fmt::format_string<Args...> format, Args&&... args) noexcept {
        log_from(nullptr, spdlog::level::warn, format, std::forward<Args>(args)...);
    }
    template <class... Args>
    void error(fmt::format_string<Args...> format, Args&&... args) noexcept {
        log_from(nullptr, spdlog::level::err, format, std::forward<Args>(args)...);
    }
    template <class... Args>
    void critical(fmt::format_string<Args...> format, Args&&... args) noexcept {
        log_from(nullptr, spdlog::level::critical, format, std::forward<Args>(args)...);
    }
    template <class... Args>
    void log(level_enum level, fmt::format_string<Args...> format, Args&&... args) noexcept {
        log_from(nullptr, level, format, std::forward<Args>(args)...);
    }

    // The same with a source location (what LOGBUF_INFO and friends pass).
    // `where` must outlive the logger's lines: the macros pass a static.
    template <class... Args>
    void log_from(const spdlog::source_loc* where, level_enum level,
                  fmt::format_string<Args...> format, Args&&... args) noexcept {
        if (!should_log(level)) [[unlikely]] {
            if (is_shut_down()) count_drop();
            return;
        }
        const fmt::string_view f = format;
        if constexpr (details::all_deferred<Args...>)
            write(where, level, f, args...);
        else
            write_formatted(where, level, f, fmt::make_format_args(args...));
    }

    // Returns once everything logged before it, by any thread, through any
    // logger, is in the sinks and the sinks are flushed; gives up (and says
    // so on stderr) only if the backend makes no progress for 100 ms.
    void flush() noexcept;

    void set_level(level_enum level) noexcept;
    [[nodiscard]] level_enum level() const noexcept;
    [[nodiscard]] bool should_log(level_enum level) const noexcept {
        // Relaxed: a filter; a call racing set_level() may go either way.
        return static_cast<int>(level) >= level_.load(std::memory_order_relaxed);
    }
    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    [[nodiscard]] const std::vector<spdlog::sink_ptr>& sinks() const noexcept { return sinks_; }
    // Calls dropped: the ring was full under overflow_policy::drop, the
    // backend had been shut down, or the thread's ring could not be made.
    [[nodiscard]] std::uint64_t dropped() const noexcept {
        // Relaxed: a statistic; nothing is published through it.
        return dropped_.load(std::memory_order_relaxed);
    }
    [[nodiscard]] const logger_options& options() const noexcept { return options_; }

  private:
    friend std::shared_ptr<logger> make_logger(std::string, std::vector<spdlog::sink_ptr>,
                                               logger_options);
    friend class details::logger_access;

    ~logger();  // only the deleter make_logger installs destroys a logger

    // The whole hot path for deferred arguments.
    template <class... Args>
    [[gnu::always_inline]] void write(const spdlog::source_loc* where, level_enum level,
                                      fmt::string_view f, const Args&... args) noexcept {
        details::thread_ring* ring = details::current_ring;
        if (ring == nullptr || ring->capacity < options_.ring_capacity) [[unlikely]] {
            ring = details::attach_this_thread(options_.ring_capacity);
            if (ring == nullptr) return count_drop();
        }
        const std::uint64_t now = details::ticks();
        const std::size_t size = details::header_size + details::encoded_size_of(args...);
        if (size > ring->max_record) [[unlikely]]
            return write_cut(*ring, now, where, level, f, args...);
        queue::write_claim claim = ring->producer.try_claim(size);
        if (!claim) [[unlikely]] {
            claim = wait_for_room(*ring, size);
            if (!claim) return;  // dropped, and counted
        }
        std::byte* out = claim.data();
        put_header<Args...>(out, now, where, level, f);
        details::encode_all(out + details::header_size, args...);
        claim.commit();
    }

    template <class... Args>
    [[gnu::always_inline]] void put_header(std::byte* out, std::uint64_t now,
                                           const spdlog::source_loc* where, level_enum level,
                                           fmt::string_view f) const noexcept {
        const details::record_header h{&details::decode<details::canonical_t<Args>...>,
                                       now,
                                       this,
                                       f.data(),
                                       static_cast<std::uint32_t>(f.size()),
                                       static_cast<std::uint8_t>(level),
                                       {},
                                       where};
        std::memcpy(out, &h, sizeof h);
    }

    // A call whose strings do not fit one record: each string keeps what
    // fits, then the truncation marker.
    template <class... Args>
    [[gnu::cold, gnu::noinline]] void write_cut(details::thread_ring& ring, std::uint64_t now,
                                                const spdlog::source_loc* where, level_enum level,
                                                fmt::string_view f, const Args&... args) noexcept {
        constexpr std::size_t strings =
            (std::size_t{0} + ... + (details::is_string_arg<Args> ? 1 : 0));
        const std::size_t fixed = details::header_size +
                                  (std::size_t{0} + ... +
                                   (details::is_string_arg<Args> ? sizeof(std::uint32_t)
                                                                 : sizeof(details::plain_t<Args>)));
        const std::size_t reserve = strings * details::marker_reserve();
        if (strings == 0 || fixed + reserve > ring.max_record) return count_drop();
        std::size_t room = ring.max_record - fixed - reserve;
        std::array<std::size_t, strings + 1> keep{}, cut{};
        std::size_t size = fixed, i = 0;
        [[maybe_unused]] const auto plan = [&](const auto& a) {
            if constexpr (details::is_string_arg<decltype(a)>) {
                const std::string_view s = details::string_of(a);
                keep[i] = details::keep_length(s, room);
                cut[i] = s.size() - keep[i];
                room -= keep[i];
                size += keep[i] + (cut[i] != 0 ? details::marker_size(cut[i]) : 0);
                ++i;
            }
        };
        (plan(args), ...);
        queue::write_claim claim = ring.producer.try_claim(size);
        if (!claim) {
            claim = wait_for_room(ring, size);
            if (!claim) return;
        }
        std::byte* out = claim.data();
        put_header<Args...>(out, now, where, level, f);
        out += details::header_size;
        i = 0;
        [[maybe_unused]] const auto put = [&](const auto& a) {
            if constexpr (details::is_string_arg<decltype(a)>) {
                const std::string_view s = details::string_of(a);
                const std::uint32_t n =
                    details::is_null_string(a)
                        ? details::null_string
                        : static_cast<std::uint32_t>(
                              keep[i] + (cut[i] != 0 ? details::marker_size(cut[i]) : 0));
                std::memcpy(out, &n, sizeof n);
                out += sizeof n;
                if (keep[i] != 0) std::memcpy(out, s.data(), keep[i]);
                out += keep[i];
                if (cut[i] != 0) out = details::write_marker(out, cut[i]);
                ++i;
            } else {
                details::encode_one(out, a);
            }
        };
        (put(args), ...);
        claim.commit();
    }

    // Arguments that are not copied: format on the caller, log the text.
    void write_formatted(const spdlog::source_loc* where, level_enum level, fmt::string_view f,
                         fmt::format_args args) noexcept;
    // The ring is full: wait (overflow_policy::block) or drop and count.
    [[nodiscard]] queue::write_claim wait_for_room(details::thread_ring& ring,
                                                   std::size_t size) noexcept;
    void count_drop() noexcept {
        // Relaxed: a statistic (see dropped()).
        dropped_.fetch_add(1, std::memory_order_relaxed);
    }
    [[nodiscard]] static bool is_shut_down() noexcept;

    // Read by every call: the level and the options, on one line.
    std::atomic<int> level_;
    const logger_options options_;
    const std::string name_;
    const std::vector<spdlog::sink_ptr> sinks_;

    // Written only by calls that drop.
    alignas(logbuf::details::false_sharing_range) std::atomic<std::uint64_t> dropped_{0};
    // The backend's: how many drops it has reported with a warning line.
    alignas(logbuf::details::false_sharing_range) std::uint64_t drops_reported_ = 0;
};

}  // namespace logbuf::log
