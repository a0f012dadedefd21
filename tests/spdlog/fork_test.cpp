// fork() with async loggers (regression: the child's lines were lost
// silently, a child that filled the ring spun for ever, its flush() waited
// the whole timeout). The child gets a backend of its own; nothing the
// parent logged before the fork is written twice; the child's exit writes
// what it logged.
#include "test_sinks.hpp"

#include <logbuf/spdlog.hpp>

#include <spdlog/sinks/basic_file_sink.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define LOGBUF_TEST_TSAN 1
#endif
#endif

namespace {

using logbuf_test::temp_file;

TEST(SpdlogFork, TheChildLogsThroughABackendOfItsOwnAndNothingIsWrittenTwice) {
#if defined(LOGBUF_TEST_TSAN)
    GTEST_SKIP() << "ThreadSanitizer does not support threads started after fork()";
#endif
    temp_file file("fork");
    auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(file.str(), true);
    sink->set_pattern("%v");
    logbuf::async_options o;
    o.use_registry = false;
    o.capacity = 4096;  // the child logs many times this
    auto log = logbuf::make_async_logger("forked", sink, o);
    for (int i = 0; i < 100; ++i)
        log->info("before {}", i);  // not flushed: some may still be in the ring

    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        for (int i = 0; i < 500; ++i)
            log->info("child {}", i);
        log->flush();
        for (int i = 500; i < 600; ++i)
            log->info("child {}", i);
        std::exit(0);  // the exit handler writes the last 100
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
    log->info("after");
    log->flush();

    std::map<std::string, int> count;
    for (const auto& line : file.lines())
        ++count[line];
    for (int i = 0; i < 100; ++i)
        EXPECT_EQ(count["before " + std::to_string(i)], 1) << i;
    for (int i = 0; i < 600; ++i)
        EXPECT_EQ(count["child " + std::to_string(i)], 1) << i;
    EXPECT_EQ(count["after"], 1);
    EXPECT_EQ(count.size(), 701u);
}

}  // namespace
