// logbuf/log/macros.hpp - LOGBUF_TRACE ... LOGBUF_CRITICAL: a log call with
// its source location, so the sinks' %s, %g, %# and %! print the file, line
// and function as they do for SPDLOG_LOGGER_INFO.
//
//   LOGBUF_INFO(log, "order {} filled", id);   // log: shared_ptr<logger> or logger*
//   LOGBUF_WARN(log, "no arguments is fine");
//
// The location is a static of the call site: the record carries one pointer.
#pragma once

#include <logbuf/log/logger.hpp>

#include <spdlog/common.h>

#define LOGBUF_LOG_AT(logger, level, ...)                                \
    do {                                                                 \
        static constexpr ::spdlog::source_loc logbuf_where_{             \
            __FILE__, __LINE__, static_cast<const char*>(__FUNCTION__)}; \
        (logger)->log_from(&logbuf_where_, level, __VA_ARGS__);          \
    } while (false)

#define LOGBUF_TRACE(logger, ...) LOGBUF_LOG_AT(logger, ::spdlog::level::trace, __VA_ARGS__)
#define LOGBUF_DEBUG(logger, ...) LOGBUF_LOG_AT(logger, ::spdlog::level::debug, __VA_ARGS__)
#define LOGBUF_INFO(logger, ...) LOGBUF_LOG_AT(logger, ::spdlog::level::info, __VA_ARGS__)
#define LOGBUF_WARN(logger, ...) LOGBUF_LOG_AT(logger, ::spdlog::level::warn, __VA_ARGS__)
#define LOGBUF_ERROR(logger, ...) LOGBUF_LOG_AT(logger, ::spdlog::level::err, __VA_ARGS__)
#define LOGBUF_CRITICAL(logger, ...) LOGBUF_LOG_AT(logger, ::spdlog::level::critical, __VA_ARGS__)
