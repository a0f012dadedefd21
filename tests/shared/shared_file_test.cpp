// The ring file: what create() writes and what open() / recover() refuse.
// Every broken file must be refused with std::invalid_argument before it is
// trusted; a missing one with std::system_error.
#include "shared_test_support.hpp"

#include <logbuf/queue/shared.hpp>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <system_error>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

namespace qs = logbuf::queue::shared;
namespace d = logbuf::queue::details;
using shared_test::ring_path;

void write_at(const std::filesystem::path& path, off_t offset, const void* bytes, std::size_t n) {
    const int fd = ::open(path.c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pwrite(fd, bytes, n, offset), static_cast<ssize_t>(n));
    ::close(fd);
}
template <class T>
void write_value(const std::filesystem::path& path, off_t offset, T value) {
    write_at(path, offset, &value, sizeof value);
}
void resize(const std::filesystem::path& path, off_t size) {
    ASSERT_EQ(::truncate(path.c_str(), size), 0);
}

std::size_t recover_count(const std::filesystem::path& path) {
    return qs::recover(path, [](std::span<const std::byte>) {});
}

TEST(SharedFile, MissingFileIsASystemError) {
    ring_path path("missing");
    try {
        (void)qs::open(path);
        FAIL() << "open() of a missing file did not throw";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code().value(), ENOENT);
    }
    EXPECT_THROW(recover_count(path), std::system_error);
}

TEST(SharedFile, CreateInAMissingDirectoryIsASystemError) {
    EXPECT_THROW((void)qs::create("/dev/shm/logbuf-no-such-dir/x.ring", 1024), std::system_error);
}

TEST(SharedFile, CreateRejectsBadCapacities) {
    ring_path path("capacity");
    EXPECT_THROW((void)qs::create(path, 0), std::invalid_argument);
    EXPECT_THROW((void)qs::create(path, 15), std::invalid_argument);
    EXPECT_THROW((void)qs::create(path, (std::size_t{1} << 62) + 1), std::invalid_argument);
    EXPECT_FALSE(std::filesystem::exists(path.path()));
}

TEST(SharedFile, CreateRoundsUpAndLaysOutTheFile) {
    ring_path path("layout");
    auto rx = qs::create(path, 1000);
    EXPECT_EQ(rx.capacity(), 1024u);
    EXPECT_EQ(rx.max_payload(), 1016u);
    EXPECT_EQ(std::filesystem::file_size(path.path()), d::file_layout::buffer + 1024u);
    auto tx = qs::open(path);
    EXPECT_EQ(tx.capacity(), 1024u);
    EXPECT_EQ(tx.max_payload(), 1016u);
    // No temporary file is left behind.
    for (const auto& entry : std::filesystem::directory_iterator("/dev/shm"))
        EXPECT_EQ(entry.path().string().find(path.path().string() + ".tmp"), std::string::npos);
}

TEST(SharedFile, CreateReplacesAnOldFileAndOldHandlesKeepTheirs) {
    ring_path path("replace");
    auto old_rx = qs::create(path, 64);
    auto old_tx = qs::open(path);
    auto rx = qs::create(path, 128);
    auto tx = qs::open(path);
    EXPECT_EQ(tx.capacity(), 128u);
    {
        auto c = old_tx.try_claim(4);
        ASSERT_TRUE(c);
        c.commit();
    }
    EXPECT_EQ(old_rx.drain([](std::span<const std::byte>) {}), 1u);
    EXPECT_EQ(rx.drain([](std::span<const std::byte>) {}), 0u);
}

TEST(SharedFile, AnEmptyFileIsRefused) {
    ring_path path("empty");
    const int fd = ::open(path.path().c_str(), O_CREAT | O_RDWR, 0600);
    ASSERT_GE(fd, 0);
    ::close(fd);
    EXPECT_THROW((void)qs::open(path), std::invalid_argument);
    EXPECT_THROW(recover_count(path), std::invalid_argument);
}

TEST(SharedFile, ADirectoryIsRefused) {
    EXPECT_ANY_THROW((void)qs::open("/dev/shm"));
    EXPECT_ANY_THROW(recover_count("/dev/shm"));
}

// One way to break a good file, and its name.
struct corruption {
    const char* name;
    std::function<void(const std::filesystem::path&)> apply;
};

void PrintTo(const corruption& c, std::ostream* os) {
    *os << c.name;
}

class SharedFileCorruption : public ::testing::TestWithParam<corruption> {};

TEST_P(SharedFileCorruption, IsRefusedByOpenAndRecover) {
    ring_path path(GetParam().name);
    {
        auto rx = qs::create(path, 4096);
        auto tx = qs::open(path);
        auto c = tx.try_claim(100);
        ASSERT_TRUE(c);
        c.commit();
    }
    ASSERT_EQ(recover_count(path), 1u);  // intact, it recovers
    GetParam().apply(path);
    EXPECT_THROW((void)qs::open(path), std::invalid_argument);
    EXPECT_THROW(recover_count(path), std::invalid_argument);
}

#define LOGBUF_FIELD(f) static_cast<off_t>(offsetof(d::file_header, f))

INSTANTIATE_TEST_SUITE_P(
    Header, SharedFileCorruption,
    ::testing::Values(
        corruption{"magic",
                   [](const auto& p) { write_value<std::uint64_t>(p, 0, 0x1234567812345678ull); }},
        corruption{"version",
                   [](const auto& p) { write_value<std::uint32_t>(p, LOGBUF_FIELD(version), 2); }},
        corruption{
            "capacity_not_power_of_two",
            [](const auto& p) { write_value<std::uint64_t>(p, LOGBUF_FIELD(capacity), 4095); }},
        corruption{"capacity_too_small",
                   [](const auto& p) { write_value<std::uint64_t>(p, LOGBUF_FIELD(capacity), 8); }},
        corruption{"capacity_huge",
                   [](const auto& p) {
                       write_value<std::uint64_t>(p, LOGBUF_FIELD(capacity),
                                                  std::uint64_t{1} << 63);
                   }},
        corruption{
            "capacity_changed",  // a valid power of two, but not what was made
            [](const auto& p) { write_value<std::uint64_t>(p, LOGBUF_FIELD(capacity), 2048); }},
        corruption{
            "file_size_field",
            [](const auto& p) { write_value<std::uint64_t>(p, LOGBUF_FIELD(file_size), 1 << 20); }},
        corruption{
            "layout_offset",
            [](const auto& p) { write_value<std::uint32_t>(p, LOGBUF_FIELD(tail_offset), 136); }},
        corruption{"reserved",
                   [](const auto& p) { write_value<std::uint32_t>(p, LOGBUF_FIELD(reserved), 1); }},
        corruption{"checksum",
                   [](const auto& p) { write_value<std::uint64_t>(p, LOGBUF_FIELD(checksum), 0); }},
        corruption{"truncated_to_header", [](const auto& p) { resize(p, 40); }},
        corruption{"truncated_in_buffer",
                   [](const auto& p) { resize(p, d::file_layout::buffer + 100); }},
        corruption{"longer_than_capacity",
                   [](const auto& p) { resize(p, d::file_layout::buffer + 8192); }},
        corruption{"tail_misaligned",
                   [](const auto& p) { write_value<std::uint64_t>(p, d::file_layout::tail, 108); }},
        corruption{
            "tail_beyond_head_plus_capacity",
            [](const auto& p) { write_value<std::uint64_t>(p, d::file_layout::tail, 4096 + 8); }},
        corruption{
            "head_beyond_tail",
            [](const auto& p) { write_value<std::uint64_t>(p, d::file_layout::head, 1024); }},
        corruption{
            "consumed_beyond_tail",
            [](const auto& p) { write_value<std::uint64_t>(p, d::file_layout::consumed, 1024); }}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

}  // namespace
