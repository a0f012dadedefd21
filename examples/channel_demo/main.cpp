// channel_demo - hot threads log through a logbuf MPSC channel; one logger
// thread formats the records and writes them to a file.
//
//   channel_demo [--threads N] [--records N] [--burst N] [--capacity BYTES] [--out PATH]
//
// Each hot thread sends --records binary records in bursts of --burst, with a
// short pause between bursts (like a strategy reacting to market data), so the
// logger alternates between draining and sleeping. Per record the hot thread
// does only send / memcpy / commit / notify; the logger does the formatting and
// the file I/O. The summary says how many records and bytes went through, how
// long the hot side spent per record, and how long the logger slept.
#include <logbuf/channel/mpsc.hpp>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

struct options {
    unsigned threads = 4;
    std::uint64_t records = 100'000;  // per thread
    unsigned burst = 500;
    std::size_t capacity = 1 << 20;
    std::string out = "channel_demo.log";
};

// What a hot thread logs: fixed-size, no formatting on the hot path.
struct event {
    std::int64_t time_ns;  // steady clock at send
    std::uint32_t thread;
    std::uint32_t padding;
    std::uint64_t seq;
    double price;
    std::int64_t quantity;
};

[[noreturn]] void usage(const char* self) {
    std::fprintf(stderr,
                 "usage: %s [--threads N] [--records N per thread] [--burst N]"
                 " [--capacity BYTES] [--out PATH]\n",
                 self);
    std::exit(2);
}

std::uint64_t number(const char* self, const char* text) {
    char* end = nullptr;
    const unsigned long long value = std::strtoull(text, &end, 10);
    if (end == text || *end != '\0' || value == 0) usage(self);
    return value;
}

options parse(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string_view flag = argv[i];
        if (flag == "--help" || flag == "-h") usage(argv[0]);
        if (i + 1 >= argc) usage(argv[0]);
        const char* value = argv[++i];
        if (flag == "--threads") {
            o.threads = static_cast<unsigned>(std::min<std::uint64_t>(number(argv[0], value), 255));
        } else if (flag == "--records") {
            o.records = number(argv[0], value);
        } else if (flag == "--burst") {
            o.burst =
                static_cast<unsigned>(std::min<std::uint64_t>(number(argv[0], value), 1u << 30));
        } else if (flag == "--capacity") {
            o.capacity = number(argv[0], value);
        } else if (flag == "--out") {
            o.out = value;
        } else {
            usage(argv[0]);
        }
    }
    return o;
}

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               clock_type::now().time_since_epoch())
        .count();
}

// Hot thread: send, fill, commit, notify. Returns the time each record took.
std::vector<std::int64_t> hot_thread(logbuf::channel::mpsc::sender tx, const options& o,
                                     std::uint32_t id) {
    std::vector<std::int64_t> cost;
    cost.reserve(o.records);
    for (std::uint64_t seq = 0; seq < o.records; ++seq) {
        const std::int64_t start = now_ns();
        auto claim = tx.send(sizeof(event));
        if (!claim) {
            std::fprintf(stderr, "thread %u: send failed: %s\n", id,
                         logbuf::to_string(claim.error()));
            break;
        }
        const event e{start,
                      id,
                      0,
                      seq,
                      100.0 + static_cast<double>(seq % 1000) / 100.0,
                      static_cast<std::int64_t>(seq % 17) + 1};
        std::memcpy(claim.data(), &e, sizeof e);
        claim.commit();
        tx.notify();
        cost.push_back(now_ns() - start);
        if ((seq + 1) % o.burst == 0) std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    return cost;
}

struct logger_result {
    std::uint64_t records = 0;
    std::uint64_t payload_bytes = 0;
    std::uint64_t file_bytes = 0;
    std::uint64_t out_of_order = 0;
    logbuf::channel::parking_stats parking;
};

// Logger thread: receive until every sender is gone, format, write.
logger_result logger_thread(logbuf::channel::mpsc::receiver& rx, std::FILE* file,
                            unsigned threads) {
    logger_result result;
    std::vector<std::uint64_t> next(threads, 0);
    char line[160];
    for (;;) {
        const auto record = rx.recv();
        if (!record) break;  // errc::disconnected: every sender gone, ring drained
        event e{};
        std::memcpy(&e, record.data(), std::min(sizeof e, record.size()));
        if (e.thread >= threads || e.seq != next[e.thread]++) ++result.out_of_order;
        const int n = std::snprintf(
            line, sizeof line, "%" PRId64 " thread=%u seq=%" PRIu64 " price=%.2f qty=%" PRId64 "\n",
            e.time_ns, e.thread, e.seq, e.price, e.quantity);
        if (n > 0) {
            const auto len = std::min(static_cast<std::size_t>(n), sizeof line - 1);
            result.file_bytes += std::fwrite(line, 1, len, file);
        }
        ++result.records;
        result.payload_bytes += record.size();
    }
    result.parking = rx.parking();
    return result;
}

double percentile(std::vector<std::int64_t>& v, double q) {
    if (v.empty()) return 0;
    const auto k = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1));
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
    return static_cast<double>(v[k]);
}

}  // namespace

int main(int argc, char** argv) {
    const options o = parse(argc, argv);
    std::FILE* file = std::fopen(o.out.c_str(), "w");
    if (!file) {
        std::perror(o.out.c_str());
        return 1;
    }

    auto [tx, rx] = logbuf::channel::mpsc::make(o.capacity);
    const auto start = clock_type::now();

    logger_result logged;
    std::thread logger([&, &rx = rx] { logged = logger_thread(rx, file, o.threads); });

    std::vector<std::vector<std::int64_t>> costs(o.threads);
    std::vector<std::thread> hot;
    for (unsigned t = 0; t < o.threads; ++t)
        hot.emplace_back([&costs, &o, t, sender = tx]() mutable {
            costs[t] = hot_thread(std::move(sender), o, t);
        });
    { auto last = std::move(tx); }  // the logger ends when the hot threads' copies are gone
    for (auto& t : hot)
        t.join();
    logger.join();
    const double elapsed = std::chrono::duration<double>(clock_type::now() - start).count();
    std::fclose(file);

    std::vector<std::int64_t> all;
    for (auto& c : costs)
        all.insert(all.end(), c.begin(), c.end());
    const std::uint64_t expected = std::uint64_t{o.threads} * o.records;

    std::printf(
        "channel_demo: %u hot threads -> 1 logger thread via logbuf::channel::mpsc (%zu-byte "
        "ring)\n",
        o.threads, rx.capacity());
    std::printf("  records    %" PRIu64 " of %" PRIu64 " sent, %" PRIu64 " out of order\n",
                logged.records, expected, logged.out_of_order);
    std::printf("  bytes      %" PRIu64 " payload, %" PRIu64 " written to %s\n",
                logged.payload_bytes, logged.file_bytes, o.out.c_str());
    std::printf("  hot path   send+commit+notify p50 %.0f ns, p99 %.0f ns, max %.0f ns\n",
                percentile(all, 0.50), percentile(all, 0.99), percentile(all, 1.0));
    std::printf(
        "  logger     parked %" PRIu64 " times, slept %.1f ms of %.1f ms\n", logged.parking.parks,
        std::chrono::duration<double, std::milli>(logged.parking.slept).count(), elapsed * 1000.0);
    return logged.records == expected && logged.out_of_order == 0 ? 0 : 1;
}
