// logbuf::async_logger and make_async_logger(): the spdlog side. The ring
// and the flush and retire handshakes are in spdlog_source; the thread is the
// shared backend's.
#include "spdlog_source.hpp"

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
    if (options.flush_every < std::chrono::milliseconds::zero())
        throw std::invalid_argument("logbuf::async_options: flush_every must not be negative");
    for (const auto& sink : sinks)
        if (!sink) throw std::invalid_argument("logbuf::make_async_logger: null sink");
    return options;
}

}  // namespace

async_logger::async_logger(std::string logger_name, std::vector<spdlog::sink_ptr> sinks,
                           async_options options, std::shared_ptr<details::spdlog_source> source)
    : spdlog::logger(std::move(logger_name), std::make_move_iterator(sinks.begin()),
                     std::make_move_iterator(sinks.end())),
      options_(std::move(options)),
      source_(std::move(source)) {
    source_->attach(*this);
}

async_logger::~async_logger() = default;

std::shared_ptr<async_logger> async_logger::adopt(async_logger* logger) {
    // Should the control block not fit in memory, shared_ptr calls the
    // deleter, which hands the logger to the backend, and rethrows.
    return std::shared_ptr<async_logger>(logger, retire_on_release{});
}

void async_logger::retire_on_release::operator()(async_logger* logger) const noexcept {
    // Keep the ring alive through the handshake: the backend deletes the
    // logger (and may drop its own reference) before we return.
    const std::shared_ptr<details::spdlog_source> source = logger->source_;
    source->retire(logger);
}

std::shared_ptr<async_logger> async_logger::create(std::string logger_name,
                                                   std::vector<spdlog::sink_ptr> sinks,
                                                   async_options options) {
    options = checked(std::move(options), sinks);
    auto source = std::make_shared<details::spdlog_source>(options);
    auto logger = adopt(
        new async_logger(std::move(logger_name), std::move(sinks), std::move(options), source));
    details::backend::instance().add(std::move(source));
    return logger;
}

std::shared_ptr<spdlog::logger> async_logger::clone(std::string logger_name) {
    auto copy = adopt(new async_logger(std::move(logger_name), sinks_, options_, source_));
    copy->set_level(level());
    copy->flush_on(flush_level());
    copy->custom_err_handler_ = custom_err_handler_;
    copy->tracer_ = tracer_;
    return copy;
}

std::uint64_t async_logger::dropped() const noexcept {
    return source_->dropped();
}

std::size_t async_logger::capacity() const noexcept {
    return source_->capacity();
}

void async_logger::sink_it_(const spdlog::details::log_msg& msg) {
    // spdlog::logger::should_flush_() without the call into libspdlog.
    // Relaxed, as spdlog reads it: a setting, not a publication.
    const auto flush_level =
        static_cast<spdlog::level::level_enum>(flush_level_.load(std::memory_order_relaxed));
    source_->post(*this, msg, msg.level >= flush_level && msg.level != spdlog::level::off);
}

void async_logger::flush_() {
    source_->flush(*this);
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
    std::shared_ptr<spdlog::logger> logger =
        async_logger::create(std::move(logger_name), std::move(sinks), options);
    if (options.use_registry) spdlog::details::registry::instance().initialize_logger(logger);
    return logger;
}

std::shared_ptr<spdlog::logger> make_async_logger(std::string logger_name, spdlog::sink_ptr sink,
                                                  const async_options& options) {
    return make_async_logger(std::move(logger_name), std::vector<spdlog::sink_ptr>{std::move(sink)},
                             options);
}

}  // namespace logbuf
