// tests/log/capture_sink.hpp - an spdlog sink that keeps what it is given,
// for the logbuf::log tests.
#pragma once

#include <spdlog/details/log_msg.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace logbuf_test {

struct captured {
    std::string text;  // the message (%v)
    std::string line;  // formatted with the sink's pattern, no newline
    spdlog::level::level_enum level;
    spdlog::log_clock::time_point time;
    std::size_t thread_id;
};

class capture_sink final : public spdlog::sinks::base_sink<std::mutex> {
  public:
    explicit capture_sink(std::string pattern = "%v") {
        set_formatter_(std::make_unique<spdlog::pattern_formatter>(
            std::move(pattern), spdlog::pattern_time_type::local, std::string()));
    }
    std::vector<captured> lines() {
        std::lock_guard<std::mutex> lock(mutex_);
        return lines_;
    }
    std::vector<std::string> texts() {
        std::lock_guard<std::mutex> lock(mutex_);
        std::vector<std::string> out;
        for (const auto& c : lines_)
            out.push_back(c.text);
        return out;
    }
    std::size_t flushes() {
        std::lock_guard<std::mutex> lock(mutex_);
        return flushes_;
    }

  protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        spdlog::memory_buf_t buf;
        formatter_->format(msg, buf);
        lines_.push_back(captured{std::string(msg.payload.data(), msg.payload.size()),
                                  std::string(buf.data(), buf.size()), msg.level, msg.time,
                                  msg.thread_id});
    }
    void flush_() override { ++flushes_; }

  private:
    std::vector<captured> lines_;
    std::size_t flushes_ = 0;
};

}  // namespace logbuf_test
