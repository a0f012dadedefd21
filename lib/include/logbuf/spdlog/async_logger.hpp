// logbuf/spdlog/async_logger.hpp - an spdlog::logger whose log calls only
// format the message and copy it, with its metadata, into an MPSC ring; the
// process's one logging backend thread rebuilds each record and writes it to
// the sinks.
//
// Make one with logbuf::make_async_logger() (logbuf/spdlog.hpp), a factory,
// or clone(). Everything spdlog::logger offers works as usual: levels,
// patterns, flush_on(), backtraces, clone(), the error handler. The
// differences, all of which docs/spdlog.md spells out:
//
// - flush() is synchronous: it returns once every message logged before it
//   (by any thread) has been written to the sinks and the sinks are flushed,
//   waiting while the backend makes progress (see async_options::flush_timeout).
// - The last shared_ptr going away (spdlog::drop(), spdlog::shutdown()) writes
//   every message already logged and flushes the sinks, under the same rule;
//   the object itself is deleted on the backend thread after its last record.
//   No thread is joined.
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
class spdlog_source;
}

class async_logger final : public spdlog::logger {
  public:
    // Made by make_async_logger() and clone() only: the shared_ptr they
    // return hands the logger to the backend when the last copy goes.
    // Throws std::invalid_argument for options it cannot use (capacity below
    // min_async_capacity, a non-positive time, a null sink). Does not touch
    // spdlog's registry (make_async_logger does).
    [[nodiscard]] static std::shared_ptr<async_logger> create(std::string logger_name,
                                                              std::vector<spdlog::sink_ptr> sinks,
                                                              async_options options = {});

    async_logger(const async_logger&) = delete;
    async_logger& operator=(const async_logger&) = delete;
    async_logger(async_logger&&) = delete;
    async_logger& operator=(async_logger&&) = delete;

    // A new logger with the same sinks, levels, error handler and options,
    // writing through the same ring (so that one thread's messages through
    // both stay in order). Not registered.
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
    friend class details::spdlog_source;
    struct retire_on_release {
        void operator()(async_logger* logger) const noexcept;
    };

    async_logger(std::string logger_name, std::vector<spdlog::sink_ptr> sinks,
                 async_options options, std::shared_ptr<details::spdlog_source> source);
    ~async_logger() override;  // on the backend thread, after the logger's last record
    [[nodiscard]] static std::shared_ptr<async_logger> adopt(async_logger* logger);

    // Called on the backend thread: the same work spdlog::logger::sink_it_()
    // and flush_() do, with every exception going to the error handler.
    void backend_log(const spdlog::details::log_msg& msg) noexcept;
    void backend_flush() noexcept;
    void backend_error(const std::string& what) noexcept;

    async_options options_;
    std::shared_ptr<details::spdlog_source> source_;
};

}  // namespace logbuf
