// logbuf/log.hpp - logging with formatting on the backend thread, through
// spdlog sinks.
//
//   #include <logbuf/log.hpp>
//
//   auto file = std::make_shared<spdlog::sinks::basic_file_sink_mt>("orders.log");
//   auto log = logbuf::log::make_logger("orders", file);
//   log->info("order {} filled qty {} px {:.2f}", id, qty, px);   // copies 20 bytes
//   LOGBUF_WARN(log, "slow fill on {}", venue);                    // + file, line, function
//   log->flush();                                                  // in the file now
//
// logger.hpp: the logger, make_logger, flush_all, shutdown.
// logger_options.hpp: ring size, overflow policy, level.
// copy_loggable.hpp: letting a user type be formatted on the backend.
// macros.hpp: LOGBUF_TRACE ... LOGBUF_CRITICAL.
// docs/logging.md: what is deferred, what "nothing lost" covers, fork, numbers.
#pragma once

#include <logbuf/log/copy_loggable.hpp>
#include <logbuf/log/logger.hpp>
#include <logbuf/log/logger_options.hpp>
#include <logbuf/log/macros.hpp>
