// logbuf::async_logger and make_async_logger(): the spdlog side. The ring,
// the thread and the flush handshake are in async_backend.
#include "async_backend.hpp"

#include <logbuf/spdlog.hpp>

#include <spdlog/details/registry.h>
#include <spdlog/fmt/fmt.h>
#include <spdlog/sinks/sink.h>

#include <stdexcept>
#include <utility>

namespace logbuf {

namespace {

async_options checked(async_options options, const std::vector<spdlog::sink_ptr>& sinks) {
    if (options.capacity < min_async_capacity)
        throw std::invalid_argument("logbuf::async_options: capacity below min_async_capacity");
    if (options.idle_sleep <= std::chrono::nanoseconds::zero())
        throw std::invalid_argument("logbuf::async_options: idle_sleep must be positive");
    if (options.flush_timeout <= std::chrono::milliseconds::zero())
        throw std::invalid_argument("logbuf::async_options: flush_timeout must be positive");
    for (const auto& sink : sinks)
        if (!sink) throw std::invalid_argument("logbuf::make_async_logger: null sink");
    return options;
}

}  // namespace

async_logger::async_logger(std::string logger_name, std::vector<spdlog::sink_ptr> sinks,
                           async_options options)
    : spdlog::logger(std::move(logger_name), std::make_move_iterator(sinks.begin()),
                     std::make_move_iterator(sinks.end())),
      options_(checked(std::move(options), sinks_)),
      backend_(std::make_unique<details::async_backend>(*this, options_)) {}

async_logger::~async_logger() = default;  // ~async_backend drains and joins

std::shared_ptr<spdlog::logger> async_logger::clone(std::string logger_name) {
    auto copy = std::make_shared<async_logger>(std::move(logger_name), sinks_, options_);
    copy->set_level(level());
    copy->flush_on(flush_level());
    copy->custom_err_handler_ = custom_err_handler_;
    copy->tracer_ = tracer_;
    return copy;
}

std::uint64_t async_logger::dropped() const noexcept {
    return backend_->dropped();
}

std::size_t async_logger::capacity() const noexcept {
    return backend_->capacity();
}

void async_logger::sink_it_(const spdlog::details::log_msg& msg) {
    // spdlog::logger::should_flush_() without the call into libspdlog.
    // Relaxed, as spdlog reads it: a setting, not a publication.
    const auto flush_level =
        static_cast<spdlog::level::level_enum>(flush_level_.load(std::memory_order_relaxed));
    backend_->post(msg, msg.level >= flush_level && msg.level != spdlog::level::off);
}

void async_logger::flush_() {
    backend_->flush();
}

void async_logger::backend_log(const spdlog::details::log_msg& msg) noexcept {
    for (const auto& sink : sinks_) {
        if (!sink->should_log(msg.level)) continue;
        try {
            sink->log(msg);
        } catch (const std::exception& e) {
            // The text spdlog::logger gives its error handler for the same failure.
            if (msg.source.filename)
                backend_error(
                    fmt::format("{} [{}({})]", e.what(), msg.source.filename, msg.source.line));
            else
                backend_error(e.what());
        } catch (...) {
            // spdlog rethrows here; the backend thread has nobody to rethrow to.
            backend_error("unknown exception in sink");
        }
    }
}

void async_logger::backend_flush() noexcept {
    for (const auto& sink : sinks_) {
        try {
            sink->flush();
        } catch (const std::exception& e) {
            backend_error(e.what());
        } catch (...) {
            backend_error("unknown exception in sink flush");
        }
    }
}

void async_logger::backend_error(const std::string& what) noexcept {
    try {
        err_handler_(what);
    } catch (...) {
        // A throwing error handler has nowhere left to report to.
    }
}

std::shared_ptr<spdlog::logger> make_async_logger(std::string logger_name,
                                                  std::vector<spdlog::sink_ptr> sinks,
                                                  const async_options& options) {
    auto logger = std::make_shared<async_logger>(std::move(logger_name), std::move(sinks), options);
    if (options.use_registry) spdlog::details::registry::instance().initialize_logger(logger);
    return logger;
}

std::shared_ptr<spdlog::logger> make_async_logger(std::string logger_name, spdlog::sink_ptr sink,
                                                  const async_options& options) {
    return make_async_logger(std::move(logger_name), std::vector<spdlog::sink_ptr>{std::move(sink)},
                             options);
}

}  // namespace logbuf
