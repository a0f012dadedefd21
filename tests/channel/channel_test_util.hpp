// Helpers shared by the channel tests: the two channel flavours as GoogleTest
// type parameters, and byte/string conversions.
#pragma once

#include <logbuf/channel/mpsc.hpp>
#include <logbuf/channel/spsc.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <cstring>
#include <fstream>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>

#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace channel_test {

struct spsc_flavour {
    using sender = logbuf::channel::spsc::sender;
    using receiver = logbuf::channel::spsc::receiver;
    static auto make(std::size_t capacity) { return logbuf::channel::spsc::make(capacity); }
};

struct mpsc_flavour {
    using sender = logbuf::channel::mpsc::sender;
    using receiver = logbuf::channel::mpsc::receiver;
    static auto make(std::size_t capacity) { return logbuf::channel::mpsc::make(capacity); }
};

using flavours = ::testing::Types<spsc_flavour, mpsc_flavour>;

// The same channels made with fence_mode::fences (seq_cst fence in notify(),
// no membarrier when the receiver parks).
struct spsc_fences_flavour : spsc_flavour {
    static auto make(std::size_t capacity) {
        return logbuf::channel::spsc::make(capacity, logbuf::channel::fence_mode::fences);
    }
};
struct mpsc_fences_flavour : mpsc_flavour {
    static auto make(std::size_t capacity) {
        return logbuf::channel::mpsc::make(capacity, logbuf::channel::fence_mode::fences);
    }
};
using flavours_and_fence_modes =
    ::testing::Types<spsc_flavour, mpsc_flavour, spsc_fences_flavour, mpsc_fences_flavour>;

// Iteration counts are scaled down under ThreadSanitizer, which runs
// concurrent code 5-20 times slower.
#if defined(LOGBUF_UNDER_TSAN)
inline constexpr int sanitizer_divisor = 8;
#else
inline constexpr int sanitizer_divisor = 1;
#endif

inline std::string to_string(std::span<const std::byte> bytes) {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// send + copy + commit + notify: the hot path as users write it.
template <class Sender>
::testing::AssertionResult send_text(Sender& tx, std::string_view text) {
    auto claim = tx.send(text.size());
    if (!claim)
        return ::testing::AssertionFailure() << "send failed: " << logbuf::to_string(claim.error());
    std::memcpy(claim.data(), text.data(), text.size());
    claim.commit();
    tx.notify();
    return ::testing::AssertionSuccess();
}

// The calling thread's kernel id, so that another thread can see whether it
// sleeps. 0 where we cannot tell.
inline long current_tid() {
#if defined(__linux__)
    return static_cast<long>(::syscall(SYS_gettid));
#else
    return 0;
#endif
}

// True if thread `tid` of this process sleeps in the kernel (state 'S'): a
// receiver in recv() is then parked in its futex wait.
inline bool is_asleep(long tid) {
    if (tid == 0) return false;
    std::ifstream stat("/proc/self/task/" + std::to_string(tid) + "/stat");
    std::stringstream text;
    text << stat.rdbuf();
    const std::string s = text.str();
    const auto paren = s.rfind(')');  // the thread name may contain spaces
    return paren != std::string::npos && paren + 2 < s.size() && s[paren + 2] == 'S';
}

// Waits until the receiver sleeps in the kernel, at most `limit`. On a busy
// machine its sched_yield rounds can take long. False if it never did.
inline bool wait_until_asleep(long tid, std::chrono::steady_clock::duration limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
        if (is_asleep(tid)) return true;
        std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    return false;
}

}  // namespace channel_test
