#include <logbuf/error.hpp>

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <system_error>

namespace {

TEST(Error, ConvertsToErrorCodeWithLogbufCategory) {
    std::error_code ec = logbuf::errc::full;
    EXPECT_EQ(ec.value(), 1);
    EXPECT_STREQ(ec.category().name(), "logbuf");
    EXPECT_EQ(ec, logbuf::errc::full);
    EXPECT_NE(ec, logbuf::errc::empty);
}

TEST(Error, EveryValueHasItsOwnMessage) {
    std::set<std::string> messages;
    for (auto e : {logbuf::errc::full, logbuf::errc::empty, logbuf::errc::zero_length,
                   logbuf::errc::too_large, logbuf::errc::disconnected, logbuf::errc::timeout}) {
        const std::string message = std::error_code(e).message();
        EXPECT_FALSE(message.empty());
        EXPECT_EQ(message.find("unknown"), std::string::npos) << message;
        messages.insert(message);
    }
    EXPECT_EQ(messages.size(), 6u);
    EXPECT_STREQ(logbuf::to_string(logbuf::errc{}), "no error");
}

TEST(Error, ValuesAreTheSpecifiedOnes) {
    EXPECT_EQ(static_cast<int>(logbuf::errc::full), 1);
    EXPECT_EQ(static_cast<int>(logbuf::errc::empty), 2);
    EXPECT_EQ(static_cast<int>(logbuf::errc::zero_length), 3);
    EXPECT_EQ(static_cast<int>(logbuf::errc::too_large), 4);
    EXPECT_EQ(static_cast<int>(logbuf::errc::disconnected), 5);
    EXPECT_EQ(static_cast<int>(logbuf::errc::timeout), 6);
}

}  // namespace
