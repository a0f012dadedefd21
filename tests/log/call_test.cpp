// What a call captures and how the sinks print it: values as at the call,
// the same lines as a synchronous spdlog logger (level, time, thread, name,
// source location), the clock, levels, bad input, truncation, drops.
// SPDLOG_LOGGER_TRACE and _DEBUG compile to nothing below this level.
#define SPDLOG_ACTIVE_LEVEL SPDLOG_LEVEL_TRACE

#include "capture_sink.hpp"

#include <logbuf/log.hpp>

#include <spdlog/logger.h>
#include <spdlog/spdlog.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

namespace {

struct counter {  // formattable, not copy_loggable
    int value;
};

}  // namespace

template <>
struct fmt::formatter<counter> {
    constexpr auto parse(format_parse_context& ctx) { return ctx.begin(); }
    auto format(const counter& c, format_context& ctx) const {
        return fmt::format_to(ctx.out(), "counter({})", c.value);
    }
};

namespace {

using logbuf_test::capture_sink;

TEST(call, values_are_those_at_the_call) {
    auto sink = std::make_shared<capture_sink>();
    auto log = logbuf::log::make_logger("values", sink);
    std::string s = "before";
    char buf[16] = "before";
    counter c{1};
    {
        std::string temporary = "temporary";
        log->info("{} {} {} {}", s, buf, c, temporary);
    }  // `temporary` is gone before the backend formats
    s = "after, and long enough to reallocate the string's buffer";
    std::strcpy(buf, "after");
    c.value = 2;
    log->flush();
    ASSERT_EQ(sink->texts(), std::vector<std::string>{"before before counter(1) temporary"});
}

// The pattern a sync spdlog logger and ours print alike, minus the time.
constexpr const char* pattern = "[%n] [%l] [%L] [%t] [%s:%#] [%!] [%g] %v";

TEST(call, lines_match_a_synchronous_spdlog_logger) {
    auto ours = std::make_shared<capture_sink>(pattern);
    auto theirs = std::make_shared<capture_sink>(pattern);
    auto log = logbuf::log::make_logger("orders", ours, {.level = spdlog::level::trace});
    spdlog::logger sync("orders", theirs);
    sync.set_level(spdlog::level::trace);
    // One line per macro, each issued by both on the same source line.
    // clang-format off
    LOGBUF_TRACE(log, "t {}", 1); SPDLOG_LOGGER_TRACE(&sync, "t {}", 1);
    LOGBUF_DEBUG(log, "d {}", 2); SPDLOG_LOGGER_DEBUG(&sync, "d {}", 2);
    LOGBUF_INFO(log, "i {:.2f}", 3.0); SPDLOG_LOGGER_INFO(&sync, "i {:.2f}", 3.0);
    LOGBUF_WARN(log.get(), "w"); SPDLOG_LOGGER_WARN(&sync, "w");
    LOGBUF_ERROR(log, "e {}", "x"); SPDLOG_LOGGER_ERROR(&sync, "e {}", "x");
    LOGBUF_CRITICAL(log, "c {}", std::string("y")); SPDLOG_LOGGER_CRITICAL(&sync, "c {}", std::string("y"));
    // clang-format on
    log->info("no location {}", 4);
    sync.info("no location {}", 4);
    log->flush();
    const auto a = ours->lines();
    const auto b = theirs->lines();
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i)
        EXPECT_EQ(a[i].line, b[i].line);
    EXPECT_NE(a[0].line.find("call_test.cpp"), std::string::npos) << a[0].line;
}

TEST(call, printed_time_is_the_system_clock_within_a_millisecond) {
    auto sink = std::make_shared<capture_sink>();
    auto log = logbuf::log::make_logger("clock", sink);
    std::vector<std::pair<spdlog::log_clock::time_point, spdlog::log_clock::time_point>> windows;
    for (int i = 0; i < 50; ++i) {
        const auto before = spdlog::log_clock::now();
        log->info("tick {}", i);
        const auto after = spdlog::log_clock::now();
        windows.emplace_back(before, after);
        if (i % 10 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(30));
    }
    log->flush();
    const auto lines = sink->lines();
    ASSERT_EQ(lines.size(), windows.size());
    const auto slack = std::chrono::milliseconds(1);
    for (std::size_t i = 0; i < lines.size(); ++i) {
        EXPECT_GE(lines[i].time, windows[i].first - slack) << i;
        EXPECT_LE(lines[i].time, windows[i].second + slack) << i;
    }
}

TEST(call, levels_filter_and_are_settable) {
    auto sink = std::make_shared<capture_sink>("%l %v");
    auto log = logbuf::log::make_logger("levels", sink, {.level = spdlog::level::warn});
    EXPECT_EQ(log->level(), spdlog::level::warn);
    EXPECT_FALSE(log->should_log(spdlog::level::info));
    EXPECT_TRUE(log->should_log(spdlog::level::err));
    log->info("hidden");
    log->warn("shown {}", 1);
    log->set_level(spdlog::level::debug);
    log->debug("shown {}", 2);
    log->trace("hidden");
    log->log(spdlog::level::err, "shown {}", 3);
    log->flush();
    EXPECT_EQ(sink->texts(), (std::vector<std::string>{"shown 1", "shown 2", "shown 3"}));
    EXPECT_EQ(log->name(), "levels");
}

TEST(call, sinks_keep_their_own_patterns_and_levels) {
    auto plain = std::make_shared<capture_sink>("%v");
    auto fancy = std::make_shared<capture_sink>("<%n|%l> %v");
    fancy->set_level(spdlog::level::err);
    auto log = logbuf::log::make_logger("two", std::vector<spdlog::sink_ptr>{plain, fancy});
    log->info("a {}", 1);
    log->error("b {}", 2);
    log->flush();
    ASSERT_EQ(plain->lines().size(), 2u);
    ASSERT_EQ(fancy->lines().size(), 1u);
    EXPECT_EQ(fancy->lines()[0].line, "<two|error> b 2");
}

TEST(call, bad_input_throws_invalid_argument) {
    auto sink = std::make_shared<capture_sink>();
    EXPECT_THROW(logbuf::log::make_logger("x", spdlog::sink_ptr{}), std::invalid_argument);
    EXPECT_THROW(logbuf::log::make_logger("x", std::vector<spdlog::sink_ptr>{sink, nullptr}),
                 std::invalid_argument);
    EXPECT_THROW(logbuf::log::make_logger("x", sink, {.ring_capacity = 0}), std::invalid_argument);
    EXPECT_THROW(logbuf::log::make_logger("x", sink, {.ring_capacity = std::size_t{1} << 62}),
                 std::invalid_argument);
    EXPECT_THROW(
        logbuf::log::make_logger("x", sink, {.level = static_cast<spdlog::level::level_enum>(42)}),
        std::invalid_argument);
    // No sinks at all is allowed: the lines go nowhere.
    auto none = logbuf::log::make_logger("none", std::vector<spdlog::sink_ptr>{});
    none->info("into the void {}", 1);
    none->flush();
}

TEST(call, over_long_strings_are_cut_with_a_marker) {
    // A thread of its own: its ring is the small one asked for here.
    std::thread([] {
        auto sink = std::make_shared<capture_sink>();
        auto log = logbuf::log::make_logger("cut", sink, {.ring_capacity = 4096});
        const std::string big(10'000, 'x');
        const std::string fits(100, 'y');
        log->info("{} | {} | {}", fits, big, 7);
        log->info("{}", std::string(5000, 'z'));
        std::string utf8;
        for (int i = 0; i < 2000; ++i)
            utf8 += "é";
        log->info("{}", utf8);
        log->info("small {}", 1);
        log->flush();
        const auto texts = sink->texts();
        ASSERT_EQ(texts.size(), 4u);
        EXPECT_EQ(texts[0].substr(0, 103), fits + " | ");
        EXPECT_NE(texts[0].find("...[truncated "), std::string::npos);
        EXPECT_EQ(texts[0].substr(texts[0].size() - 4), " | 7");
        EXPECT_LE(texts[0].size(), 1024u);
        EXPECT_NE(texts[1].find("...[truncated "), std::string::npos);
        // Cut on a character boundary: what is kept is whole "é"s.
        const auto kept = texts[2].substr(0, texts[2].find("...[truncated "));
        EXPECT_EQ(kept.size() % 2, 0u);
        EXPECT_EQ(texts[3], "small 1");
        // The count in the marker adds up to the original length.
        const auto at = texts[1].find("...[truncated ");
        const auto cut = std::stoul(texts[1].substr(at + 14));
        EXPECT_EQ(at + cut, 5000u);
    }).join();
}

TEST(call, drops_are_counted_and_reported_under_the_drop_policy) {
    std::thread([] {
        auto sink = std::make_shared<capture_sink>();
        auto log = logbuf::log::make_logger(
            "drop", sink, {.ring_capacity = 4096, .overflow = logbuf::overflow_policy::drop});
        // 4 KiB hold about 60 of these; the backend may drain some meanwhile.
        for (int i = 0; i < 5000; ++i)
            log->info("line {} {}", i, std::string(8, 'p'));
        log->flush();
        const std::uint64_t dropped = log->dropped();
        const auto texts = sink->texts();
        std::size_t lines = 0, reported = 0;
        for (const auto& t : texts) {
            if (t.rfind("line ", 0) == 0)
                ++lines;
            else if (t.find("logbuf: dropped ") == 0)
                reported += std::stoul(t.substr(16));
        }
        EXPECT_GT(dropped, 0u);
        EXPECT_EQ(lines + dropped, 5000u);
        EXPECT_EQ(reported, dropped);
    }).join();
}

TEST(call, block_policy_loses_nothing_on_a_tiny_ring) {
    std::thread([] {
        auto sink = std::make_shared<capture_sink>();
        auto log = logbuf::log::make_logger("block", sink, {.ring_capacity = 4096});
        for (int i = 0; i < 20000; ++i)
            log->info("{}", i);
        log->flush();
        const auto texts = sink->texts();
        ASSERT_EQ(texts.size(), 20000u);
        for (int i = 0; i < 20000; ++i)
            ASSERT_EQ(texts[static_cast<std::size_t>(i)], std::to_string(i));
        EXPECT_EQ(log->dropped(), 0u);
    }).join();
}

}  // namespace
