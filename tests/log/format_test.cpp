// The backend's output is byte for byte fmt::format's, for every deferred
// type and a wide range of format specs, and for the caller-formatted
// fallback.
#include "capture_sink.hpp"

#include <logbuf/log.hpp>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <climits>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace {

enum plain_enum { red = 1, green = 7 };
enum class scoped : std::uint8_t { low = 3, high = 200 };

struct price {
    std::int64_t ticks;
};
struct money {  // formattable, not opted in: formatted on the caller
    std::int64_t cents;
};

}  // namespace

template <>
struct fmt::formatter<scoped> : fmt::formatter<std::string_view> {
    auto format(scoped s, format_context& ctx) const {
        return fmt::formatter<std::string_view>::format(s == scoped::low ? "low" : "high", ctx);
    }
};

template <>
struct fmt::formatter<price> : fmt::formatter<double> {
    auto format(price p, format_context& ctx) const {
        return fmt::formatter<double>::format(static_cast<double>(p.ticks) / 100.0, ctx);
    }
};

template <>
struct fmt::formatter<money> {
    constexpr auto parse(format_parse_context& ctx) { return ctx.begin(); }
    auto format(money m, format_context& ctx) const {
        return fmt::format_to(ctx.out(), "${}.{:02}", m.cents / 100, m.cents % 100);
    }
};

template <>
inline constexpr bool logbuf::log::copy_loggable<price> = true;

static_assert(logbuf::log::details::all_deferred<int, double, const char*, std::string&, price>);
static_assert(!logbuf::log::details::all_deferred<money>);
static_assert(logbuf::log::details::all_deferred<plain_enum, scoped, void*, std::nullptr_t>);

// Logs through logbuf and records what fmt::format makes of the same call.
#define SAME(...)                                     \
    do {                                              \
        expected.push_back(fmt::format(__VA_ARGS__)); \
        log->info(__VA_ARGS__);                       \
    } while (false)

namespace {

class format_test : public ::testing::Test {
  protected:
    std::shared_ptr<logbuf_test::capture_sink> sink = std::make_shared<logbuf_test::capture_sink>();
    std::shared_ptr<logbuf::log::logger> log = logbuf::log::make_logger("fmt", sink);
    std::vector<std::string> expected;

    void check() {
        log->flush();
        EXPECT_EQ(sink->texts(), expected);
    }
};

TEST_F(format_test, integers_every_width_and_spec) {
    SAME("{} {} {} {}", std::int8_t{-5}, std::uint8_t{250}, short{-300},
         static_cast<unsigned short>(65000));
    SAME("{} {} {} {}", INT_MIN, UINT_MAX, LLONG_MIN, ULLONG_MAX);
    SAME("{} {}", std::numeric_limits<long>::max(), 0ul);
    SAME("{:x} {:X} {:#x} {:o} {:#o} {:b} {:#b}", 255, 255, 255, 8, 8, 5, 5);
    SAME("{:>8}|{:<8}|{:^8}|{:*^9}|{:08}|{:+}|{: }", 42, 42, 42, 42, -42, 42, 42);
    SAME("{:c}", 65);
    SAME("{1} {0} {1}", 1, 2);
    SAME("{:>{}}|{:.{}f}", 7, 5, 3.14159, 2);
    SAME("{:#010x}", 0xbeefu);
    check();
}

TEST_F(format_test, floating_point) {
    SAME("{} {} {}", 0.1, 1e300, -0.0);
    SAME("{} {}", 1.5f, std::numeric_limits<float>::max());
    SAME("{:.3f} {:.2f} {:e} {:E} {:g} {:a}", 3.14159, 2.005, 12345.678, 0.000123, 1e-7, 1.0);
    SAME("{:10.3f}|{:<10.1f}|{:+.0f}|{:08.2f}", 3.14159, 2.5, 2.5, -1.5);
    SAME("{} {}", std::numeric_limits<double>::infinity(),
         std::numeric_limits<double>::quiet_NaN());
    SAME("{} {:.10}", 1.0L / 3, 2.0L / 3);
    check();
}

TEST_F(format_test, bool_char_enum_pointer) {
    SAME("{} {} {:d} {:>6}", true, false, true, false);
    SAME("{} {:d} {:x} {:>3}|{:c}", 'z', 'A', 'A', 'q', 'r');
    SAME("{} {}", static_cast<int>(red), static_cast<int>(green));
    SAME("{} {:>6} {}", scoped::low, scoped::high, scoped::high);
    int x = 0;
    void* p = &x;
    const void* cp = &x;
    SAME("{} {} {:p}", p, cp, p);
    SAME("{}", nullptr);
    check();
}

TEST_F(format_test, strings_of_every_kind) {
    const char* c = "c-string";
    char mutable_chars[] = "char array";
    char* m = mutable_chars;
    std::string s = "std::string";
    std::string_view v = "string_view, longer than that";
    v = v.substr(0, 11);  // not NUL-terminated where it ends
    const fmt::string_view fv("fmt::string_view");
    SAME("{} {} {} {} {} {}", c, m, mutable_chars, s, v, fv);
    SAME("{:>12}|{:<12}|{:^12}|{:.3}|{:*>10.4}", c, s, v, s, c);
    SAME("{:s} {}", c, "literal");
    SAME("[{}] [{}]", std::string(), std::string_view());
    SAME("{}", std::string("with\0nul", 8));
    SAME("{} {}", "ünïcödé", std::string("日本語"));
    check();
}

TEST_F(format_test, no_arguments_and_escaped_braces) {
    SAME("plain text");
    SAME("{{}} {{{}}} }}{{", 1);
    SAME("");
    check();
}

TEST_F(format_test, user_types_opted_in_and_not) {
    SAME("{} {:.3f} {:>8.1f}", price{12345}, price{-1}, price{99});
    SAME("{} and {}", money{1234}, 5);  // caller-formatted
    SAME("{:>5}|{}|{}", money{7}.cents, money{7}, std::string("x"));
    check();
}

TEST_F(format_test, many_arguments_mixed) {
    const std::string venue = "XNAS";
    SAME("order {} filled qty {} px {:.2f} on {} side {} id {:#x} ok {}", std::uint64_t{123456789},
         100, 101.255, venue, 'B', 0xdeadu, true);
    check();
}

TEST(format_errors, null_c_string_is_reported_not_crashed) {
    auto sink = std::make_shared<logbuf_test::capture_sink>();
    auto log = logbuf::log::make_logger("null", sink);
    const char* none = nullptr;
    log->info("value: {}", none);
    log->info("after");
    log->flush();
    const auto texts = sink->texts();
    ASSERT_EQ(texts.size(), 2u);
    EXPECT_NE(texts[0].find("format error"), std::string::npos) << texts[0];
    EXPECT_EQ(texts[1], "after");
}

}  // namespace
