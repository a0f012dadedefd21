// logbuf/spdlog/async_logger.hpp - an spdlog::logger whose log calls only
// format the message and copy it, with its metadata, into an MPSC ring; a
// backend thread of its own rebuilds each record and writes it to the sinks.
//
// Make one with logbuf::make_async_logger() (logbuf/spdlog.hpp). Everything
// spdlog::logger offers works as usual: levels, patterns, flush_on(),
// backtraces, clone(), the error handler. The differences, all of which
// docs/spdlog.md spells out:
//
// - flush() is synchronous: it returns once every message logged before it
//   (by any thread) has been written to the sinks and the sinks are flushed.
// - The destructor (the last shared_ptr going away, spdlog::drop(),
//   spdlog::shutdown()) writes every message already logged, flushes the
//   sinks and joins the backend thread.
// - The sinks are called on the backend thread only; an exception a sink
//   throws goes to the logger's error handler and the backend carries on.
// - As with spdlog's own async logger, source_loc's file and function names
//   are kept as pointers: they must outlive the logger (string literals, which
//   is what SPDLOG_LOGGER_* macros pass).
#pragma once

#include <logbuf/spdlog/async_options.hpp>

#include <spdlog/logger.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace logbuf {

namespace details {
class async_backend;
}

class async_logger final : public spdlog::logger {
  public:
    // Starts the backend thread. Throws std::invalid_argument for options it
    // cannot use (capacity below min_async_capacity, a non-positive time, a
    // null sink). Does not touch spdlog's registry (make_async_logger does).
    async_logger(std::string logger_name, std::vector<spdlog::sink_ptr> sinks,
                 async_options options = {});
    // Writes what is in the ring, flushes the sinks, joins the thread.
    ~async_logger() override;

    async_logger(const async_logger&) = delete;
    async_logger& operator=(const async_logger&) = delete;
    async_logger(async_logger&&) = delete;
    async_logger& operator=(async_logger&&) = delete;

    // A new logger with the same sinks, levels, error handler and options,
    // and a ring and backend thread of its own. Not registered.
    std::shared_ptr<spdlog::logger> clone(std::string logger_name) override;

    [[nodiscard]] const async_options& options() const noexcept { return options_; }

    // Messages dropped so far because the ring was full (overflow_policy::drop).
    [[nodiscard]] std::uint64_t dropped() const noexcept;

    // Bytes the ring actually has (options().capacity rounded up).
    [[nodiscard]] std::size_t capacity() const noexcept;

  protected:
    // The hot path: copy the message into the ring. Never throws, never
    // allocates, no syscall while the ring has room.
    void sink_it_(const spdlog::details::log_msg& msg) override;
    // Synchronous flush (see above).
    void flush_() override;

  private:
    friend class details::async_backend;

    // Called on the backend thread: the same work spdlog::logger::sink_it_()
    // and flush_() do, with every exception going to the error handler.
    void backend_log(const spdlog::details::log_msg& msg) noexcept;
    void backend_flush() noexcept;
    void backend_error(const std::string& what) noexcept;

    async_options options_;
    std::unique_ptr<details::async_backend> backend_;
};

}  // namespace logbuf
