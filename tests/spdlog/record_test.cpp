// The record layout (lib/spdlog_record.hpp): every log_msg field survives an
// encode/decode round trip; a message too large for the ring is cut at a
// UTF-8 boundary and ends with a marker that says how much was cut.
#include "spdlog_record.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace record = logbuf::details::record;
using spdlog::details::log_msg;

// An 8-byte-aligned buffer, as the ring hands out.
std::vector<std::byte> encode(const log_msg& msg, std::string_view own_name,
                              std::size_t max_payload, bool flush_after,
                              record::message_plan* plan_out = nullptr) {
    const record::message_plan plan = record::plan_message(msg, own_name, max_payload);
    EXPECT_LE(plan.size, max_payload);
    std::vector<std::byte> bytes(plan.size);
    record::encode_message(bytes.data(), plan, msg, nullptr, flush_after);
    if (plan_out) *plan_out = plan;
    return bytes;
}

TEST(SpdlogRecord, EveryFieldRoundTrips) {
    static const std::string own = "orders";
    log_msg in(spdlog::log_clock::time_point(std::chrono::nanoseconds(1'700'000'000'123'456'789)),
               spdlog::source_loc{"src/strategy.cpp", 4242, "on_fill"}, own,
               spdlog::level::critical, "order 17 filled qty 100 px 101.25");
    in.thread_id = 0xDEADBEEF12345678ull;
    for (bool flush_after : {false, true}) {
        const auto bytes = encode(in, own, 4096, flush_after);
        ASSERT_EQ(record::kind_of(bytes.data()), record::kind::message);
        // The logger's own name is not stored.
        EXPECT_EQ(bytes.size(), record::message_header + in.payload.size());
        const record::decoded_message d = record::decode_message(bytes.data(), bytes.size(), own);
        EXPECT_EQ(d.flush_after, flush_after);
        EXPECT_EQ(d.msg.level, in.level);
        EXPECT_EQ(d.msg.time, in.time);
        EXPECT_EQ(d.msg.thread_id, in.thread_id);
        EXPECT_EQ(d.msg.source.filename, in.source.filename);  // the same pointer
        EXPECT_EQ(d.msg.source.funcname, in.source.funcname);
        EXPECT_EQ(d.msg.source.line, in.source.line);
        EXPECT_EQ(d.msg.logger_name.data(), own.data());
        EXPECT_EQ(std::string_view(d.msg.payload.data(), d.msg.payload.size()),
                  "order 17 filled qty 100 px 101.25");
    }
}

TEST(SpdlogRecord, AForeignLoggerNameTravelsInline) {
    const std::string own = "orders", other = "risk";
    log_msg in(spdlog::source_loc{}, other, spdlog::level::info, "limit breached");
    const auto bytes = encode(in, own, 4096, false);
    const record::decoded_message d = record::decode_message(bytes.data(), bytes.size(), own);
    EXPECT_EQ(std::string_view(d.msg.logger_name.data(), d.msg.logger_name.size()), "risk");
    EXPECT_EQ(std::string_view(d.msg.payload.data(), d.msg.payload.size()), "limit breached");
    EXPECT_EQ(d.msg.source.filename, nullptr);
    EXPECT_EQ(d.msg.source.funcname, nullptr);
    EXPECT_EQ(d.msg.source.line, 0);
}

TEST(SpdlogRecord, EmptyMessage) {
    const std::string own = "x";
    log_msg in(spdlog::source_loc{}, own, spdlog::level::info, spdlog::string_view_t{});
    const auto bytes = encode(in, own, 4096, false);
    EXPECT_EQ(bytes.size(), record::message_header);
    const auto d = record::decode_message(bytes.data(), bytes.size(), own);
    EXPECT_EQ(d.msg.payload.size(), 0u);
}

TEST(SpdlogRecord, ControlRecordsCarryTimeLoggerAndWaiter) {
    std::vector<std::byte> bytes(record::control_size);
    auto* logger = reinterpret_cast<logbuf::async_logger*>(std::uintptr_t{0x1000});
    logbuf::details::waiter w;
    record::encode_control(bytes.data(), record::kind::retire, 123456789, logger, &w);
    EXPECT_EQ(record::kind_of(bytes.data()), record::kind::retire);
    EXPECT_EQ(record::time_of(bytes.data()), 123456789);
    EXPECT_EQ(record::logger_of(bytes.data()), logger);
    EXPECT_EQ(record::waiter_of(bytes.data()), &w);
}

std::string_view text_of(const record::decoded_message& d) {
    return {d.msg.payload.data(), d.msg.payload.size()};
}

TEST(SpdlogRecord, TooLargeIsCutWithAMarkerThatAddsUp) {
    const std::string own = "big";
    const std::size_t max_payload = 1016;  // a 1 KiB ring
    for (std::size_t length :
         {std::size_t{900}, std::size_t{973}, std::size_t{5000}, std::size_t{1} << 20}) {
        const std::string text(length, 'x');
        log_msg in(spdlog::source_loc{}, own, spdlog::level::info, text);
        record::message_plan plan;
        const auto bytes = encode(in, own, max_payload, false, &plan);
        const auto d = record::decode_message(bytes.data(), bytes.size(), own);
        const std::string_view out = text_of(d);
        if (length + record::message_header <= max_payload) {
            EXPECT_EQ(out, text);
            continue;
        }
        const std::string marker = "...[truncated " + std::to_string(plan.text_cut) + " bytes]";
        ASSERT_GE(out.size(), marker.size());
        EXPECT_EQ(out.substr(out.size() - marker.size()), marker);
        EXPECT_EQ(plan.text_kept + plan.text_cut, length);
        EXPECT_EQ(out.substr(0, plan.text_kept), std::string(plan.text_kept, 'x'));
        EXPECT_GT(plan.text_kept, max_payload / 2);  // most of the room still carries text
    }
}

TEST(SpdlogRecord, TheCutNeverSplitsAUtf8Character) {
    const std::string own = "utf8";
    const std::size_t max_payload = 1016;
    // Characters of 1 to 4 bytes, at every phase relative to the cut.
    for (const std::string ch : {"\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x93\x88"}) {
        for (std::size_t prefix = 0; prefix < 4; ++prefix) {
            std::string text(prefix, 'a');
            while (text.size() < 3000)
                text += ch;
            log_msg in(spdlog::source_loc{}, own, spdlog::level::info, text);
            record::message_plan plan;
            const auto bytes = encode(in, own, max_payload, false, &plan);
            ASSERT_GT(plan.text_cut, 0u);
            const std::size_t k = plan.text_kept;
            // The first byte cut off is not a continuation byte.
            EXPECT_NE(static_cast<unsigned char>(text[k]) & 0xC0u, 0x80u)
                << ch.size() << "/" << prefix;
            EXPECT_EQ(plan.text_kept + plan.text_cut, text.size());
        }
    }
}

}  // namespace
