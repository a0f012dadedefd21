// Sinks and helpers the spdlog backend tests share: a sink that keeps what
// it is given, one that holds the backend up until the test lets go, one
// that throws, and line counting for files.
#pragma once

#include <spdlog/details/log_msg.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

namespace logbuf_test {

// Every field of a log_msg, owned.
struct captured {
    spdlog::level::level_enum level{};
    spdlog::log_clock::time_point time;
    std::size_t thread_id = 0;
    std::string file, function;
    int line = 0;
    std::string logger_name, payload;
    std::string formatted;  // through the sink's formatter, without the newline
};

// Keeps a copy of every message and its formatted line; counts flushes.
class capture_sink final : public spdlog::sinks::base_sink<std::mutex> {
  public:
    capture_sink() { set_pattern("%v"); }

    std::vector<captured> messages() {
        std::lock_guard<std::mutex> lock(mutex_);
        return messages_;
    }
    std::vector<std::string> lines() {
        std::lock_guard<std::mutex> lock(mutex_);
        std::vector<std::string> out;
        for (const auto& m : messages_)
            out.push_back(m.formatted);
        return out;
    }
    std::size_t size() {
        std::lock_guard<std::mutex> lock(mutex_);
        return messages_.size();
    }
    std::size_t flushes() {
        std::lock_guard<std::mutex> lock(mutex_);
        return flushes_;
    }

  protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        captured c;
        c.level = msg.level;
        c.time = msg.time;
        c.thread_id = msg.thread_id;
        c.file = msg.source.filename ? msg.source.filename : "";
        c.function = msg.source.funcname ? msg.source.funcname : "";
        c.line = msg.source.line;
        c.logger_name.assign(msg.logger_name.data(), msg.logger_name.size());
        c.payload.assign(msg.payload.data(), msg.payload.size());
        spdlog::memory_buf_t buf;
        formatter_->format(msg, buf);
        c.formatted.assign(buf.data(), buf.size());
        while (!c.formatted.empty() && (c.formatted.back() == '\n' || c.formatted.back() == '\r'))
            c.formatted.pop_back();
        messages_.push_back(std::move(c));
    }
    void flush_() override { ++flushes_; }

  private:
    std::vector<captured> messages_;
    std::size_t flushes_ = 0;
};

// Blocks the first message it is given until open() is called: holds the
// backend thread up so that a test can fill the ring deterministically.
// `after_open`, if set, runs on the backend thread once the gate opens.
class gate_sink final : public spdlog::sinks::base_sink<std::mutex> {
  public:
    std::function<void()> after_open;  // set before the first message

    void open() {
        std::lock_guard<std::mutex> lock(gate_mutex_);
        open_ = true;
        opened_.notify_all();
    }
    // True once the backend is inside the first message, stuck at the gate.
    // Acquire pairs with the release store in sink_it_(): a caller that sees
    // true knows the backend is inside the sink.
    bool holding() const { return holding_.load(std::memory_order_acquire); }
    std::size_t size() {
        std::lock_guard<std::mutex> lock(mutex_);
        return payloads_.size();
    }
    std::vector<std::string> payloads() {
        std::lock_guard<std::mutex> lock(mutex_);
        return payloads_;
    }

  protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        {
            std::unique_lock<std::mutex> lock(gate_mutex_);
            holding_.store(true, std::memory_order_release);  // pairs with holding()
            opened_.wait(lock, [this] { return open_; });
        }
        if (after_open) std::exchange(after_open, nullptr)();
        payloads_.emplace_back(msg.payload.data(), msg.payload.size());
    }
    void flush_() override {}

  private:
    std::mutex gate_mutex_;
    std::condition_variable opened_;
    bool open_ = false;
    std::atomic<bool> holding_{false};
    std::vector<std::string> payloads_;
};

// Throws on every message whose text contains "boom" (std::runtime_error)
// or "int" (a non-standard exception), and on every flush while
// throw_on_flush is set; counts the messages it wrote.
class throwing_sink final : public spdlog::sinks::base_sink<std::mutex> {
  public:
    std::atomic<bool> throw_on_flush{false};
    std::atomic<std::size_t> written{0};

  protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        const std::string_view text(msg.payload.data(), msg.payload.size());
        if (text.find("boom") != std::string_view::npos) throw std::runtime_error("sink says boom");
        if (text.find("int") != std::string_view::npos) throw 42;
        // Relaxed: read after flush(), which orders the backend's writes.
        written.fetch_add(1, std::memory_order_relaxed);
    }
    void flush_() override {
        // Relaxed: set before the flush() that reaches here, which orders it.
        if (throw_on_flush.load(std::memory_order_relaxed))
            throw std::runtime_error("flush says boom");
    }
};

// A fresh path in the temp directory, removed when this goes away.
class temp_file {
  public:
    explicit temp_file(const std::string& stem)
        : path_(std::filesystem::temp_directory_path() /
                (stem + "." + std::to_string(::getpid()) + "." + std::to_string(next_id()) +
                 ".log")) {
        std::filesystem::remove(path_);
    }
    ~temp_file() {
        std::error_code ignored;
        std::filesystem::remove(path_, ignored);
    }
    temp_file(const temp_file&) = delete;
    temp_file& operator=(const temp_file&) = delete;

    [[nodiscard]] const std::filesystem::path& path() const { return path_; }
    [[nodiscard]] std::string str() const { return path_.string(); }

    [[nodiscard]] std::vector<std::string> lines() const {
        std::vector<std::string> out;
        std::ifstream in(path_);
        for (std::string line; std::getline(in, line);)
            out.push_back(line);
        return out;
    }

  private:
    static int next_id() {
        static std::atomic<int> n{0};
        // Relaxed: only uniqueness matters, which the RMW gives.
        return n.fetch_add(1, std::memory_order_relaxed);
    }
    std::filesystem::path path_;
};

}  // namespace logbuf_test
