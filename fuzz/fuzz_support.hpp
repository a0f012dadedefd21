// fuzz/fuzz_support.hpp - what both model-based fuzzers share: the input
// reader, tracing (LOGBUF_FUZZ_TRACE=1), and the mismatch report.
#pragma once

#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace fuzz_support {

// Set once from LOGBUF_FUZZ_TRACE in LLVMFuzzerInitialize (read_environment).
inline bool trace_enabled = false;

inline void read_environment() {
    trace_enabled = std::getenv("LOGBUF_FUZZ_TRACE") != nullptr;
}

// Prints the step being executed when tracing is on: a failing input replays
// as a readable program.
inline void trace(const char* format, ...) __attribute__((format(printf, 1, 2)));
inline void trace(const char* format, ...) {
    if (!trace_enabled) return;
    va_list args;
    va_start(args, format);
    std::vfprintf(stderr, format, args);
    va_end(args);
}

// "<fuzzer>: MISMATCH: <what>" on stderr; the caller adds its model dump and
// aborts, which is what libFuzzer reports as a crash.
inline void print_mismatch(const char* fuzzer, const char* format, va_list args) {
    std::fprintf(stderr, "%s: MISMATCH: ", fuzzer);
    std::vfprintf(stderr, format, args);
    std::fprintf(stderr, "\n");
}

// Reads the fuzzer's bytes; past the end it yields zeros, so every input is a
// complete program.
class input {
  public:
    input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
    [[nodiscard]] bool done() const { return size_ == 0; }
    std::uint8_t byte() {
        if (size_ == 0) return 0;
        --size_;
        return *data_++;
    }
    std::uint16_t word() {
        const auto hi = byte();
        return static_cast<std::uint16_t>(hi << 8 | byte());
    }

  private:
    const std::uint8_t* data_;
    std::size_t size_;
};

}  // namespace fuzz_support
