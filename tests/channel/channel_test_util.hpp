// Helpers shared by the channel tests: the two channel flavours as GoogleTest
// type parameters, and byte/string conversions.
#pragma once

#include <logbuf/channel/mpsc.hpp>
#include <logbuf/channel/spsc.hpp>

#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

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

}  // namespace channel_test
