// ipc_demo: hot processes hand order events to a logger process through a
// ring in a shared file (logbuf/channel/shared.hpp); the logger writes them
// to a file through an spdlog sink. Midway one hot process is killed with
// SIGKILL. At the end the demo prints, per hot process, how many records it
// committed, how many reached the file, and how many were lost (must be 0).
//
//   ipc_demo [--hot N] [--records M] [--ring FILE] [--out FILE]
//
// Processes: this one (the conductor) forks the logger, then the hot
// processes. Each hot process counts its commits in a small shared page
// (committed = the count it had published when it ended or was killed; one
// record more may have been committed just before the kill). The logger
// checks every event's process and sequence and reports through that page.
#include <logbuf/channel/shared.hpp>

#include <spdlog/logger.h>
#include <spdlog/sinks/basic_file_sink.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

constexpr int max_hot = 16;

// One order event, as it travels through the ring.
struct order_event {
    std::uint32_t process;
    std::int32_t quantity;
    std::uint64_t sequence;
    std::uint64_t order_id;
    double price;
    char side;
    char symbol[15];
};

// The page every process of the demo shares (MAP_SHARED | MAP_ANONYMOUS,
// made before fork).
struct board {
    std::atomic<std::uint64_t> committed[max_hot];  // per hot process
    std::atomic<std::uint64_t> written[max_hot];    // by the logger
    std::atomic<std::uint64_t> gaps[max_hot];       // sequences the logger never saw
    std::atomic<std::uint64_t> bad;                 // events that did not decode
    std::atomic<std::uint64_t> unblocked;
    std::atomic<int> logger_ready;
};

struct options {
    int hot = 3;
    std::uint64_t records = 200000;
    std::filesystem::path ring = "/dev/shm/logbuf-ipc-demo.ring";
    std::filesystem::path out = "ipc_demo_orders.log";
};

options parse(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> const char* {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "%s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--hot") {
            o.hot = std::atoi(next());
        } else if (a == "--records") {
            o.records = std::strtoull(next(), nullptr, 10);
        } else if (a == "--ring") {
            o.ring = next();
        } else if (a == "--out") {
            o.out = next();
        } else {
            std::fprintf(stderr,
                         "usage: ipc_demo [--hot N] [--records M] [--ring FILE] [--out FILE]\n");
            std::exit(a == "--help" || a == "-h" ? 0 : 2);
        }
    }
    if (o.hot < 1 || o.hot > max_hot || o.records < 2) {
        std::fprintf(stderr, "ipc_demo: --hot 1..%d, --records >= 2\n", max_hot);
        std::exit(2);
    }
    return o;
}

// The logger process: receive until every hot process is gone, write each
// event through the spdlog file sink, check sequences.
int run_logger(const options& o, board& b) {
    auto rx = logbuf::channel::shared::create(o.ring, 1 << 21);
    rx.set_unblock_timeout(std::chrono::milliseconds(200));
    auto sink = std::make_shared<spdlog::sinks::basic_file_sink_st>(o.out.string(), true);
    spdlog::logger log("orders", sink);
    log.set_pattern("%H:%M:%S.%f %v");
    std::vector<std::uint64_t> next(max_hot, 0);
    b.logger_ready.store(1, std::memory_order_release);
    auto handle = [&](std::span<const std::byte> bytes) {
        order_event e{};
        if (bytes.size() != sizeof e) {
            b.bad.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        std::memcpy(&e, bytes.data(), sizeof e);
        if (e.process >= max_hot || e.sequence < next[e.process]) {
            b.bad.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        b.gaps[e.process].fetch_add(e.sequence - next[e.process], std::memory_order_relaxed);
        next[e.process] = e.sequence + 1;
        log.info("hot={} seq={} order={} {} {} {}@{:.2f}", e.process, e.sequence, e.order_id,
                 e.side == 'B' ? "BUY " : "SELL", e.symbol, e.quantity, e.price);
        b.written[e.process].fetch_add(1, std::memory_order_relaxed);
    };
    for (;;) {
        auto r = rx.recv();
        if (!r) break;  // disconnected: every hot process is gone
        handle(r.bytes());
        r.release();
        rx.drain(handle, 4096);
    }
    log.flush();
    return 0;
}

// A hot process: send `records` order events as fast as the ring allows.
int run_hot(const options& o, board& b, int id, int ready_fd) {
    auto tx = logbuf::channel::shared::open(o.ring);
    const char* symbols[] = {"AAPL", "MSFT", "NVDA", "TSLA", "AMZN"};
    for (std::uint64_t q = 0; q < o.records; ++q) {
        order_event e{};
        e.process = static_cast<std::uint32_t>(id);
        e.sequence = q;
        e.order_id = (static_cast<std::uint64_t>(id) << 40) | q;
        e.quantity = static_cast<std::int32_t>(1 + q % 500);
        e.price = 100.0 + static_cast<double>(q % 1000) * 0.01;
        e.side = (q % 2) ? 'S' : 'B';
        std::strncpy(e.symbol, symbols[q % 5], sizeof e.symbol - 1);
        auto c = tx.send(sizeof e);
        if (!c) return 1;  // disconnected: the logger is gone
        std::memcpy(c.data(), &e, sizeof e);
        c.commit();
        tx.notify();
        // Release: the conductor reads it after we are gone.
        b.committed[id].store(q + 1, std::memory_order_release);
        if (q == o.records / 2 && ready_fd >= 0) {
            const char x = 'x';
            (void)!::write(ready_fd, &x, 1);  // "half way": the conductor kills us now
        }
    }
    return 0;
}

int wait_for(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
    }
    return status;
}

}  // namespace

int main(int argc, char** argv) {
    const options o = parse(argc, argv);
    void* page =
        ::mmap(nullptr, sizeof(board), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) {
        std::perror("mmap");
        return 1;
    }
    board& b = *::new (page) board{};

    std::fflush(nullptr);
    const pid_t logger = ::fork();
    if (logger == 0) std::_Exit(run_logger(o, b));
    while (b.logger_ready.load(std::memory_order_acquire) == 0)
        std::this_thread::yield();

    int halfway[2];
    if (::pipe(halfway) != 0) return 1;
    std::vector<pid_t> hot;
    const auto start = std::chrono::steady_clock::now();
    for (int id = 0; id < o.hot; ++id) {
        const pid_t pid = ::fork();
        if (pid == 0) {
            ::close(halfway[0]);
            std::_Exit(run_hot(o, b, id, id == 0 ? halfway[1] : -1));
        }
        hot.push_back(pid);
    }
    ::close(halfway[1]);
    char x = 0;
    const bool killed = ::read(halfway[0], &x, 1) == 1;
    if (killed) ::kill(hot[0], SIGKILL);
    for (pid_t pid : hot)
        wait_for(pid);
    wait_for(logger);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    std::printf("ipc_demo: %d hot processes -> shared ring %s -> logger -> %s\n", o.hot,
                o.ring.c_str(), o.out.c_str());
    std::printf("%-10s %-12s %12s %12s %8s\n", "process", "fate", "committed", "written", "lost");
    std::uint64_t total_lost = 0, total_written = 0;
    for (int id = 0; id < o.hot; ++id) {
        const std::uint64_t committed = b.committed[id].load(std::memory_order_acquire);
        const std::uint64_t written = b.written[id].load(std::memory_order_relaxed);
        // A record committed just before SIGKILL, whose count was not
        // stored yet, is written but not counted: lost counts only what
        // was counted as committed and never written, and every gap.
        const std::uint64_t lost = (committed > written ? committed - written : 0) +
                                   b.gaps[id].load(std::memory_order_relaxed);
        total_lost += lost;
        total_written += written;
        std::printf("hot %-6d %-12s %12llu %12llu %8llu\n", id,
                    id == 0 && killed ? "SIGKILLed" : "finished",
                    static_cast<unsigned long long>(committed),
                    static_cast<unsigned long long>(written),
                    static_cast<unsigned long long>(lost));
    }
    std::printf("%llu events written in %.2f s; %llu undecodable; lost in all: %llu\n",
                static_cast<unsigned long long>(total_written), seconds,
                static_cast<unsigned long long>(b.bad.load()),
                static_cast<unsigned long long>(total_lost));
    std::error_code ignored;
    std::filesystem::remove(o.ring, ignored);
    return total_lost == 0 && b.bad.load() == 0 ? 0 : 1;
}
