// Helpers for the shared-ring tests: a ring file path that cleans up after
// itself, pipes to step a child process through a scenario, fork/kill.
// Records are the reliability tests' self-describing ones (fill / decode).
#pragma once

#include "../reliability/support.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>
#include <type_traits>

#include <sys/wait.h>
#include <unistd.h>

namespace shared_test {

using reliability::decode;
using reliability::fill;
using reliability::length_of;

// A ring file under /dev/shm (memory only), unique to this process and
// test, removed at the end.
class ring_path {
  public:
    explicit ring_path(const std::string& name)
        : path_(std::filesystem::path("/dev/shm") /
                ("logbuf-test-" + std::to_string(::getpid()) + "-" + name + ".ring")) {
        std::filesystem::remove(path_);
    }
    ~ring_path() {
        std::error_code ignored;
        std::filesystem::remove(path_, ignored);
    }
    ring_path(const ring_path&) = delete;
    ring_path& operator=(const ring_path&) = delete;
    [[nodiscard]] const std::filesystem::path& path() const { return path_; }
    operator const std::filesystem::path&() const { return path_; }  // NOLINT

  private:
    std::filesystem::path path_;
};

// One direction of parent/child stepping: send(c) writes a byte, receive()
// blocks for one (and returns it; -1 at end of file: the writer died).
class pipe_channel {
  public:
    pipe_channel() {
        if (::pipe(fds_) != 0) throw std::system_error(errno, std::generic_category(), "pipe");
    }
    ~pipe_channel() {
        ::close(fds_[0]);
        ::close(fds_[1]);
    }
    pipe_channel(const pipe_channel&) = delete;
    pipe_channel& operator=(const pipe_channel&) = delete;

    void send(char c = 'x') const {
        while (::write(fds_[1], &c, 1) != 1) {
        }
    }
    [[nodiscard]] int receive() const {
        char c = 0;
        for (;;) {
            const ssize_t n = ::read(fds_[0], &c, 1);
            if (n == 1) return static_cast<unsigned char>(c);
            if (n == 0 || errno != EINTR) return -1;
        }
    }
    // In the child: drop the end it does not use, so that EOF reaches the
    // other side when it dies.
    void close_write() { ::close(fds_[1]), fds_[1] = -1; }
    void close_read() { ::close(fds_[0]), fds_[0] = -1; }

  private:
    int fds_[2] = {-1, -1};
};

// Runs `body` in a child process, which exits with 0 if body returns true
// (1 if false or it threw). The parent gets the pid.
template <class Body>
pid_t fork_child(Body&& body) {
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork");
    if (pid == 0) {
        int status = 1;
        try {
            if constexpr (std::is_void_v<decltype(body())>) {
                body();  // a child that waits to be killed
                status = 0;
            } else {
                status = body() ? 0 : 1;
            }
        } catch (...) {
            status = 2;
        }
        std::_Exit(status);
    }
    return pid;
}

// Waits for the child; its exit status, or 128 + signal.
inline int reap(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

inline int kill_and_reap(pid_t pid) {
    ::kill(pid, SIGKILL);
    return reap(pid);
}

}  // namespace shared_test
