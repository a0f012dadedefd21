// ring_demo - hot threads write variable-length records into one MPSC byte
// ring; a consumer thread drains them and checks every one.
//
//   ring_demo [producers=3] [records-per-producer=2000000] [ring-bytes=1048576]
//
// Prints a summary: records, bytes, how often producers found the ring full,
// and the throughput. Exits non-zero if any record is missing or corrupt.
#include <logbuf/queue/mpsc.hpp>

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

// A record: [producer:4][sequence:8][text...]. The text is a fake log line
// whose length varies with the sequence number.
struct record_header {
    std::uint32_t producer;
    std::uint64_t sequence;
} __attribute__((packed));

std::size_t text_length(std::uint64_t sequence) {
    return 16 + (sequence * 7919) % 200;
}

std::size_t parse(char** argv, int i, int argc, std::size_t fallback) {
    return i < argc ? std::strtoull(argv[i], nullptr, 10) : fallback;
}

}  // namespace

int main(int argc, char** argv) {
    const std::size_t producers = parse(argv, 1, argc, 3);
    const std::uint64_t per_producer = parse(argv, 2, argc, 2'000'000);
    const std::size_t ring_bytes = parse(argv, 3, argc, 1 << 20);
    if (producers == 0 || producers > 64 || per_producer == 0) {
        std::fprintf(stderr, "usage: ring_demo [producers 1-64] [records] [ring-bytes]\n");
        return 2;
    }

    auto [tx, rx] = logbuf::queue::mpsc::make(ring_bytes);
    std::atomic<std::size_t> finished{0};
    std::vector<std::uint64_t> full_waits(producers, 0);
    const auto start = std::chrono::steady_clock::now();

    std::vector<std::thread> threads;
    for (std::size_t id = 0; id < producers; ++id) {
        threads.emplace_back([&, id, producer = tx]() mutable {
            char line[256];
            for (std::uint64_t seq = 0; seq < per_producer; ++seq) {
                const std::size_t text = text_length(seq);
                std::memset(line, 'a' + static_cast<int>(seq % 26), text);
                const std::size_t len = sizeof(record_header) + text;
                logbuf::queue::write_claim claim;
                while (!(claim = producer.try_claim(len))) {
                    ++full_waits[id];  // the consumer is behind: wait for it
                    std::this_thread::yield();
                }
                const record_header h{static_cast<std::uint32_t>(id), seq};
                std::memcpy(claim.data(), &h, sizeof h);
                std::memcpy(claim.data() + sizeof h, line, text);
                claim.commit();
            }
            // Release pairs with the consumer's acquire: all our commits precede it.
            finished.fetch_add(1, std::memory_order_release);
        });
    }

    std::vector<std::uint64_t> next(producers, 0);
    std::uint64_t records = 0, bytes = 0, errors = 0;
    for (;;) {
        // Acquire pairs with the producers' release: after it, one more drain
        // sees every record they committed.
        const bool all_finished = finished.load(std::memory_order_acquire) == producers;
        const std::size_t n = rx.drain([&](std::span<const std::byte> r) {
            record_header h{};
            std::memcpy(&h, r.data(), sizeof h);
            if (h.producer >= producers || h.sequence != next[h.producer] ||
                r.size() != sizeof h + text_length(h.sequence)) {
                ++errors;
            } else {
                ++next[h.producer];
            }
            ++records;
            bytes += r.size();
        });
        if (n == 0) {
            if (all_finished) break;
            std::this_thread::yield();
        }
    }
    for (auto& t : threads)
        t.join();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    std::uint64_t waits = 0;
    for (auto w : full_waits)
        waits += w;
    std::printf("logbuf ring demo: %zu producers -> 1 consumer, ring %zu bytes\n", producers,
                tx.capacity());
    std::printf("  records   %llu (expected %llu)\n", static_cast<unsigned long long>(records),
                static_cast<unsigned long long>(per_producer * producers));
    std::printf("  bytes     %.1f MB\n", static_cast<double>(bytes) / 1e6);
    std::printf("  errors    %llu\n", static_cast<unsigned long long>(errors));
    std::printf("  ring full %llu times (producer yielded)\n",
                static_cast<unsigned long long>(waits));
    std::printf("  time      %.3f s, %.2f M records/s, %.2f GB/s\n", seconds,
                static_cast<double>(records) / seconds / 1e6,
                static_cast<double>(bytes) / seconds / 1e9);
    return errors == 0 && records == per_producer * producers ? 0 : 1;
}
