// harness/peers.hpp - the throughput workload every byte-ring benchmark uses,
// and the Boost.Lockfree contenders our users would otherwise pick, written
// once so that every benchmark measures the same peers the same way.
//
//   bench::workload in(seed, min_len, max_len);   // sizes + payload source
//   bench::peer_setup s{cpus, seconds, ring_bytes, max_len, nodes, idle_pauses};
//   bench::run_result a = bench::run_boost_byte_ring(s, in);
//   bench::run_result b = bench::run_boost_pointer_queue(s, in);
//
// A record is [u64 stamp = its index][payload bytes from the source window];
// consumers check it with workload::record_ok.
#pragma once

#include <harness/affinity.hpp>
#include <harness/optimize.hpp>
#include <harness/record_sizes.hpp>
#include <harness/throughput.hpp>

#include <boost/lockfree/queue.hpp>
#include <boost/lockfree/spsc_queue.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

namespace bench {

// The record sizes and payload bytes of a throughput run. Payload bytes come
// from a 64 KiB window of random bytes (in L2 for every contender); record i
// starts at a different 8-byte-aligned offset.
struct workload {
    static constexpr std::size_t source_window = 64 * 1024;

    record_sequence sizes;
    std::vector<std::byte> source;

    // min_len >= 8: every record holds its stamp.
    workload(std::uint64_t seed, std::uint32_t min_len, std::uint32_t max_len)
        : sizes(1 << 16, min_len, max_len, seed),
          source(random_bytes(source_window + max_len, seed ^ 0x5eed)) {}

    [[nodiscard]] const std::byte* payload(std::uint64_t i) const noexcept {
        return source.data() + ((i * 8) & (source_window - 1));
    }

    // Writes record i (stamp, then payload) to `d`.
    void write_record(std::uint64_t i, std::byte* d, std::uint32_t len) const noexcept {
        std::memcpy(d, &i, 8);
        std::memcpy(d + 8, payload(i) + 8, len - 8);
    }

    // What a consumer checks on record `i`: its stamp, its length and its last
    // payload byte (so the record's last cache line is read too).
    [[nodiscard]] bool record_ok(std::uint64_t i, const std::byte* data,
                                 std::size_t len) const noexcept {
        return read_stamp(data) == i && len == sizes.size(i) &&
               (len == 8 || data[len - 1] == payload(i)[len - 1]);
    }

    [[nodiscard]] static std::uint64_t read_stamp(const void* p) noexcept {
        std::uint64_t v;
        std::memcpy(&v, p, sizeof v);
        return v;
    }
};

// What the peers need to know about the run.
struct peer_setup {
    cpu_pair cpus;
    double seconds = 0.25;                 // target length of one run
    std::size_t ring_bytes = 2 << 20;      // byte ring capacity
    std::uint32_t max_len = 1024;          // largest record
    std::size_t boost_queue_nodes = 4096;  // ~2 MiB of average records in flight
    int idle_pauses = 1;                   // consumer: cpu_relax() calls after an empty poll

    void idle() const noexcept {
        for (int k = 0; k < idle_pauses; ++k)
            cpu_relax();
    }
};

// Boost's byte ring has no in-place claim: a record is written as a 12-byte
// prefix (u32 length, u64 stamp) and the rest of the payload, two bulk pushes
// after one write_available() check, and read back as a 4-byte pop of the
// length and a bulk pop of the record into a local buffer. Of the ways we
// tried this was the fastest here (one bulk pop of everything available,
// parsed afterwards: ~25% slower; staging prefix + payload for one push:
// ~3x slower).
inline run_result run_boost_byte_ring(const peer_setup& s, const workload& in) {
    using byte_ring = boost::lockfree::spsc_queue<char>;
    auto q = std::make_unique<byte_ring>(s.ring_bytes);
    // Touch every page once, as logbuf's make() does with its memset, so the
    // first lap takes no page faults.
    {
        std::vector<char> chunk(4096, 'x');
        for (std::size_t done = 0; done <= s.ring_bytes; done += chunk.size()) {
            q->push(chunk.data(), chunk.size());
            q->pop(chunk.data(), chunk.size());
        }
    }
    constexpr std::size_t prefix_bytes = 12;
    std::vector<char> local(s.max_len);
    return run_throughput_pair(
        s.cpus, s.seconds, in.sizes,
        [&](std::uint64_t i) {
            const std::uint32_t len = in.sizes.size(i);
            while (q->write_available() < 4 + std::size_t{len})
                cpu_relax();
            char prefix[prefix_bytes];
            std::memcpy(prefix, &len, 4);
            std::memcpy(prefix + 4, &i, 8);
            q->push(prefix, prefix_bytes);
            q->push(reinterpret_cast<const char*>(in.payload(i)) + 8, len - 8);
        },
        [&](const run_length& total) {
            std::uint64_t next = 0, bad = 0;
            for (;;) {
                if (q->read_available() < 4) {  // a prefix is pushed whole, never in part
                    if (total.done(next)) break;
                    s.idle();
                    continue;
                }
                std::uint32_t len;
                q->pop(reinterpret_cast<char*>(&len), 4);
                // The producer pushes the rest right after the prefix.
                for (std::size_t got = 0; got < len;) {
                    const std::size_t n = q->pop(local.data() + got, len - got);
                    if (n == 0) cpu_relax();
                    got += n;
                }
                bad += !in.record_ok(next, reinterpret_cast<const std::byte*>(local.data()), len);
                ++next;
            }
            return consumed{next, bad};
        });
}

// What Boost users do for variable-length messages on boost::lockfree::queue:
// one malloc'ed record per message, the pointer through the queue, free() on
// the consumer. The queue's nodes are preallocated; bounded_push never
// allocates and fails when they are all in flight.
struct heap_record {
    std::uint64_t len;  // the payload follows, 8-byte aligned
    [[nodiscard]] std::byte* payload() noexcept { return reinterpret_cast<std::byte*>(this + 1); }
};

inline run_result run_boost_pointer_queue(const peer_setup& s, const workload& in) {
    boost::lockfree::queue<heap_record*> q(s.boost_queue_nodes);
    return run_throughput_pair(
        s.cpus, s.seconds, in.sizes,
        [&](std::uint64_t i) {
            const std::uint32_t len = in.sizes.size(i);
            auto* r = static_cast<heap_record*>(std::malloc(sizeof(heap_record) + len));
            if (r == nullptr) std::abort();
            r->len = len;
            in.write_record(i, r->payload(), len);
            while (!q.bounded_push(r))
                cpu_relax();
        },
        [&](const run_length& total) {
            std::uint64_t next = 0, bad = 0;
            heap_record* r = nullptr;
            for (;;) {
                if (!q.pop(r)) {
                    if (total.done(next)) break;
                    s.idle();
                    continue;
                }
                bad += !in.record_ok(next, r->payload(), r->len);
                ++next;
                std::free(r);
            }
            return consumed{next, bad};
        });
}

}  // namespace bench
