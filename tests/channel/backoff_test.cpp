// details::backoff: spin rounds first, then yield rounds, then "completed";
// snooze() keeps working (yielding) after that; reset() starts over.
#include <logbuf/channel/details/backoff.hpp>

#include <gtest/gtest.h>

namespace {

using logbuf::channel::details::backoff;

TEST(Backoff, SpinsThenYieldsThenCompletes) {
    backoff b;
    for (unsigned i = 0; i < backoff::spin_rounds; ++i) {
        EXPECT_TRUE(b.spinning()) << "round " << i;
        EXPECT_FALSE(b.is_completed());
        b.snooze();
    }
    for (unsigned i = 0; i < backoff::yield_rounds; ++i) {
        EXPECT_FALSE(b.spinning()) << "yield round " << i;
        EXPECT_FALSE(b.is_completed());
        b.snooze();
    }
    EXPECT_TRUE(b.is_completed());
    b.snooze();  // saturates: still a yield, still completed
    EXPECT_TRUE(b.is_completed());
    EXPECT_FALSE(b.spinning());
}

TEST(Backoff, ResetStartsOver) {
    backoff b;
    while (!b.is_completed())
        b.snooze();
    b.reset();
    EXPECT_TRUE(b.spinning());
    EXPECT_FALSE(b.is_completed());
}

}  // namespace
