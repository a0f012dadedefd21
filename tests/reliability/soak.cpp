// soak - long-running traffic check (not part of ctest; docs/reliability.md).
//
//   soak [--minutes N] [--seconds S] [--capacity BYTES] [--max-len BYTES]
//        [--mode ring|channel|both]
//
// Two producer threads push mixed-size records (mostly small, some up to
// --max-len, now and then max_payload()) through the MPSC ring and then the
// MPSC channel, for N minutes in all (default 1, split between the modes).
// Every 97th claim of each producer is aborted instead of committed. The
// consumer checks every byte of every record, the order per producer, that
// exactly the committed records arrive, and (channel) that it is told
// disconnected only after both producers left and everything arrived.
// Prints records/s and MB/s per mode and every anomaly; exit status 1 if
// there was any.
#include "support.hpp"

#include <logbuf/channel/mpsc.hpp>
#include <logbuf/queue/mpsc.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;
using reliability::decode;
using reliability::fill;
using reliability::stamp_size;

constexpr std::uint32_t producers = 2;

struct options {
    double seconds = 60;
    std::size_t capacity = 64 * 1024;
    std::size_t max_len = 2048;
    bool ring = true;
    bool channel = true;
};

[[noreturn]] void usage() {
    std::fprintf(stderr,
                 "usage: soak [--minutes N] [--seconds S] [--capacity BYTES] [--max-len BYTES]\n"
                 "            [--mode ring|channel|both]\n");
    std::exit(2);
}

options parse(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (i + 1 >= argc) usage();
        const std::string value = argv[++i];
        if (arg == "--minutes") {
            o.seconds = std::stod(value) * 60;
        } else if (arg == "--seconds") {
            o.seconds = std::stod(value);
        } else if (arg == "--capacity") {
            o.capacity = std::stoul(value);
        } else if (arg == "--max-len") {
            o.max_len = std::stoul(value);
        } else if (arg == "--mode") {
            o.ring = value == "ring" || value == "both";
            o.channel = value == "channel" || value == "both";
            if (!o.ring && !o.channel) usage();
        } else {
            usage();
        }
    }
    return o;
}

// Length of record `seq` of `source`: mostly small, one in 16 up to max_len,
// one in 1024 the largest the ring takes. A pure function: the consumer
// knows it without being told.
std::size_t length_of(std::uint32_t source, std::uint64_t seq, std::size_t max_len,
                      std::size_t max_payload) {
    std::uint64_t x = (seq + 1) * 0x9E3779B97F4A7C15ull ^ (source + 1) * 0xD1B54A32D192ED03ull;
    x ^= x >> 31;
    if (x % 1024 == 0) return max_payload;
    if (x % 16 == 0) return reliability::length_of(source, seq, max_len);
    return reliability::length_of(source, seq, 64);
}

bool aborted(std::uint64_t seq) {
    return seq % 97 == 96;
}

// What the consumer found wrong; printed as it happens (the first few) and
// counted.
struct anomalies {
    std::uint64_t count = 0;
    void report(const std::string& what) {
        if (count++ < 20) std::fprintf(stderr, "ANOMALY: %s\n", what.c_str());
    }
};

// The consumer side, shared by both modes.
class checker {
  public:
    checker(std::size_t max_len, std::size_t max_payload)
        : max_len_(max_len), max_payload_(max_payload) {}

    void check(std::span<const std::byte> r) {
        std::uint32_t source = 0;
        std::uint64_t seq = 0;
        ++records_;
        bytes_ += r.size();
        if (!decode(r, source, seq) || source >= producers) {
            found_.report("undecodable record of " + std::to_string(r.size()) + " bytes");
            return;
        }
        std::uint64_t& next = next_[source];
        while (aborted(next))
            ++next;
        if (seq != next) {
            found_.report("producer " + std::to_string(source) + ": sequence " +
                          std::to_string(seq) + ", expected " + std::to_string(next));
        }
        if (r.size() != length_of(source, seq, max_len_, max_payload_)) {
            found_.report("producer " + std::to_string(source) + " sequence " +
                          std::to_string(seq) + ": " + std::to_string(r.size()) + " bytes");
        }
        next = seq + 1;
    }

    // After the producers stopped at `sent[i]`: did every committed record
    // arrive?
    [[nodiscard]] bool complete(const std::array<std::uint64_t, producers>& sent) {
        for (std::uint32_t s = 0; s < producers; ++s) {
            std::uint64_t next = next_[s];
            while (next < sent[s] && aborted(next))
                ++next;
            if (next != sent[s]) return false;
        }
        return true;
    }

    anomalies& found() { return found_; }
    [[nodiscard]] std::uint64_t records() const { return records_; }
    [[nodiscard]] std::uint64_t bytes() const { return bytes_; }

  private:
    std::size_t max_len_;
    std::size_t max_payload_;
    std::array<std::uint64_t, producers> next_{};
    std::uint64_t records_ = 0;
    std::uint64_t bytes_ = 0;
    anomalies found_;
};

void summary(const char* mode, double seconds, checker& c, std::uint64_t full_waits) {
    std::printf(
        "%-8s %.1f s: %llu records (%.0f records/s, %.1f MB/s), %llu full waits, %llu "
        "anomalies\n",
        mode, seconds, static_cast<unsigned long long>(c.records()),
        static_cast<double>(c.records()) / seconds, static_cast<double>(c.bytes()) / seconds / 1e6,
        static_cast<unsigned long long>(full_waits),
        static_cast<unsigned long long>(c.found().count));
}

// Producer body for both modes. `claim(len)` returns a write claim or an
// empty one when full (ring) / disconnected (channel).
template <class Claim>
std::uint64_t produce(std::uint32_t source, const std::atomic<bool>& stop, std::size_t max_len,
                      std::size_t max_payload, std::atomic<std::uint64_t>& full_waits,
                      Claim&& claim) {
    std::uint64_t seq = 0;
    std::uint64_t waits = 0;
    while (!stop.load(std::memory_order_relaxed)) {
        const std::size_t len = length_of(source, seq, max_len, max_payload);
        logbuf::queue::write_claim c;
        while (!(c = claim(len))) {
            if (c.error() != logbuf::errc::full) {
                std::fprintf(stderr, "ANOMALY: producer %u: claim failed: %s\n", source,
                             logbuf::to_string(c.error()));
                std::exit(1);
            }
            ++waits;
            std::this_thread::yield();
        }
        if (aborted(seq)) {
            fill(c.bytes().first(len / 2), source, seq);  // half-written, then abandoned
            c.abort();
        } else {
            fill(c.bytes(), source, seq);
            c.commit();
        }
        ++seq;
    }
    full_waits.fetch_add(waits, std::memory_order_relaxed);
    return seq;
}

// Prints progress every 10 s and says when time is up.
class timer {
  public:
    explicit timer(double seconds) : end_(clock_type::now() + to_duration(seconds)) {}
    bool expired(checker& c) {
        const auto now = clock_type::now();
        if (now >= next_report_) {
            std::printf("  ... %llu records, %llu anomalies\n",
                        static_cast<unsigned long long>(c.records()),
                        static_cast<unsigned long long>(c.found().count));
            std::fflush(stdout);
            next_report_ = now + std::chrono::seconds(10);
        }
        return now >= end_;
    }
    static clock_type::duration to_duration(double seconds) {
        return std::chrono::duration_cast<clock_type::duration>(
            std::chrono::duration<double>(seconds));
    }

  private:
    clock_type::time_point end_;
    clock_type::time_point next_report_ = clock_type::now() + std::chrono::seconds(10);
};

std::uint64_t soak_ring(const options& o, double seconds) {
    auto [tx, rx] = logbuf::queue::mpsc::make(o.capacity);
    const std::size_t max_payload = tx.max_payload();
    const std::size_t max_len = std::min(o.max_len, max_payload);
    checker c(max_len, max_payload);
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> full_waits{0};
    std::array<std::uint64_t, producers> sent{};
    std::atomic<std::uint32_t> finished{0};
    std::vector<std::thread> threads;
    for (std::uint32_t s = 0; s < producers; ++s) {
        threads.emplace_back([&, s, p = tx]() mutable {
            sent[s] = produce(s, stop, max_len, max_payload, full_waits,
                              [&p](std::size_t len) { return p.try_claim(len); });
            finished.fetch_add(1, std::memory_order_release);
        });
    }
    const auto start = clock_type::now();
    timer t(seconds);
    const auto handler = [&c](std::span<const std::byte> r) { c.check(r); };
    while (!t.expired(c)) {
        if (rx.drain(handler, 256) == 0) std::this_thread::yield();
    }
    // Producers finish the record they are on, which may need the space
    // the consumer frees: keep draining until both are done.
    stop.store(true, std::memory_order_relaxed);
    while (finished.load(std::memory_order_acquire) != producers) {
        if (rx.drain(handler) == 0) std::this_thread::yield();
    }
    for (auto& th : threads)
        th.join();
    // Everything committed is in the ring now: drain it all.
    while (rx.drain(handler) != 0) {
    }
    if (!c.complete(sent)) c.found().report("ring: committed records missing at the end");
    if (rx.try_claim()) c.found().report("ring: a record beyond the last committed one");
    summary("ring", std::chrono::duration<double>(clock_type::now() - start).count(), c,
            full_waits.load());
    return c.found().count;
}

std::uint64_t soak_channel(const options& o, double seconds) {
    auto [tx, rx] = logbuf::channel::mpsc::make(o.capacity);
    const std::size_t max_payload = tx.max_payload();
    const std::size_t max_len = std::min(o.max_len, max_payload);
    checker c(max_len, max_payload);
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> full_waits{0};
    std::array<std::uint64_t, producers> sent{};
    std::atomic<std::uint32_t> left{0};
    std::vector<std::thread> threads;
    for (std::uint32_t s = 0; s < producers; ++s) {
        threads.emplace_back([&, s, p = tx]() mutable {
            sent[s] = produce(s, stop, max_len, max_payload, full_waits, [&p](std::size_t len) {
                // try_send and count the waits here; send() would hide them.
                auto claim = p.try_send(len);
                if (!claim) p.notify();  // full: make sure the receiver is awake
                return claim;
            });
            p.notify();
            left.fetch_add(1, std::memory_order_release);
            { auto gone = std::move(p); }  // the receiver sees the end once both are gone
        });
    }
    { auto original = std::move(tx); }
    const auto start = clock_type::now();
    timer t(seconds);
    bool stopping = false;
    for (;;) {
        if (!stopping && t.expired(c)) {
            stop.store(true, std::memory_order_relaxed);
            stopping = true;
        }
        auto r = rx.recv_for(std::chrono::milliseconds(100));
        if (r) {
            c.check(r.bytes());
            continue;
        }
        if (r.error() == logbuf::errc::disconnected) break;
        if (r.error() != logbuf::errc::timeout)
            c.found().report(std::string("channel: recv failed: ") + logbuf::to_string(r.error()));
    }
    for (auto& th : threads)
        th.join();
    if (left.load() != producers) c.found().report("channel: disconnected before both left");
    if (!c.complete(sent)) c.found().report("channel: committed records missing at the end");
    summary("channel", std::chrono::duration<double>(clock_type::now() - start).count(), c,
            full_waits.load());
    return c.found().count;
}

}  // namespace

int main(int argc, char** argv) {
    const options o = parse(argc, argv);
    std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress lines show up as they happen
    if (o.capacity < 64 || o.max_len < stamp_size) usage();  // room for a stamped record
    const int modes = (o.ring ? 1 : 0) + (o.channel ? 1 : 0);
    const double each = o.seconds / modes;
    std::printf("soak: %.0f s, %zu-byte ring, records %zu..%zu bytes, 2 producers\n", o.seconds,
                o.capacity, stamp_size, o.max_len);
    std::uint64_t bad = 0;
    if (o.ring) bad += soak_ring(o, each);
    if (o.channel) bad += soak_channel(o, each);
    std::printf("soak: %s\n", bad == 0 ? "OK, no anomalies" : "FAILED");
    return bad == 0 ? 0 : 1;
}
