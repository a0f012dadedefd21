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

// A logger writing to `sinks` through a ring and a backend thread of its own.
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

// A factory for spdlog's logger functions, in place of spdlog::async_factory:
//   spdlog::basic_logger_mt<logbuf::async_factory>("name", "file.log");
//   spdlog::rotating_logger_mt<logbuf::async_factory_nonblock>("name", "f.log", size, n);
// The logger gets default options but for the overflow policy.
template <overflow_policy Policy>
struct async_factory_impl {
    template <class Sink, class... SinkArgs>
    static std::shared_ptr<spdlog::logger> create(std::string logger_name, SinkArgs&&... args) {
        async_options options;
        options.overflow = Policy;
        return make_async_logger(std::move(logger_name),
                                 std::make_shared<Sink>(std::forward<SinkArgs>(args)...), options);
    }
};

using async_factory = async_factory_impl<overflow_policy::block>;
using async_factory_nonblock = async_factory_impl<overflow_policy::drop>;

}  // namespace logbuf
