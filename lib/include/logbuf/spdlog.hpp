// logbuf/spdlog.hpp - spdlog on top of logbuf: async logging through a
// pre-allocated MPSC ring. A log call formats the message (spdlog does that),
// copies it with its level, time, thread id, source location and logger name
// into the ring as one record and returns; a backend thread writes it to the
// sinks.
//
//   #include <logbuf/spdlog.hpp>
//
//   auto file = std::make_shared<spdlog::sinks::basic_file_sink_mt>("orders.log");
//   auto log = logbuf::make_async_logger("orders", file);        // defaults
//   log->info("order {} filled qty {} px {:.2f}", id, qty, px);
//   log->flush();     // returns once the line is in the file
//
// Or, in code written for spdlog's async factory, change one word:
//
//   auto log = spdlog::basic_logger_mt<logbuf::async_factory>("orders", "orders.log");
//
// Options: logbuf/spdlog/async_options.hpp. Guarantees and trade-offs:
// docs/spdlog.md.
#pragma once

#include <logbuf/spdlog/async_logger.hpp>
#include <logbuf/spdlog/async_options.hpp>

#include <spdlog/common.h>
#include <spdlog/logger.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace logbuf {

// A logger writing to `sinks` through a ring of its own, drained by the
// process's one logging backend thread.
// With options.use_registry (the default) it is set up and registered the way
// spdlog's factories do it (registry::initialize_logger). Throws
// std::invalid_argument for unusable options, spdlog::spdlog_ex when
// registration finds the name taken.
std::shared_ptr<spdlog::logger> make_async_logger(std::string logger_name,
                                                  std::vector<spdlog::sink_ptr> sinks,
                                                  const async_options& options = {});

// The same with a single sink.
std::shared_ptr<spdlog::logger> make_async_logger(std::string logger_name, spdlog::sink_ptr sink,
                                                  const async_options& options = {});

// What the factories below give a logger: default options but for the
// overflow policy and, when spdlog::init_thread_pool(queue_size, threads)
// was called, the ring size: queue_size x factory_bytes_per_message bytes
// (rounded up to a power of two; spdlog's default 8192 gives the default
// 1 MiB ring). The thread count is ignored: there is one backend thread.
inline constexpr std::size_t factory_bytes_per_message = 128;
[[nodiscard]] async_options factory_options(overflow_policy policy);

// A factory for spdlog's logger functions, in place of spdlog::async_factory:
//   spdlog::basic_logger_mt<logbuf::async_factory>("name", "file.log");
//   spdlog::rotating_logger_mt<logbuf::async_factory_nonblock>("name", "f.log", size, n);
//   spdlog::stdout_color_mt<logbuf::async_factory>("console");
// Every logger function of spdlog's headers works with it, including those
// libspdlog compiles (the stdout/stderr ones: logbuf instantiates them).
template <overflow_policy Policy>
struct async_factory_impl {
    template <class Sink, class... SinkArgs>
    static std::shared_ptr<spdlog::logger> create(std::string logger_name, SinkArgs&&... args) {
        return make_async_logger(std::move(logger_name),
                                 std::make_shared<Sink>(std::forward<SinkArgs>(args)...),
                                 factory_options(Policy));
    }
};

using async_factory = async_factory_impl<overflow_policy::block>;
using async_factory_nonblock = async_factory_impl<overflow_policy::drop>;

}  // namespace logbuf
