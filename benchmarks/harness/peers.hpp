// harness/peers.hpp - the throughput workload every byte-ring benchmark uses,
// and the contenders our users would otherwise pick (Boost.Lockfree,
// moodycamel), each at its fastest configuration, written once so that every
// benchmark measures the same peers the same way.
//
//   bench::workload in(seed, min_len, max_len);   // sizes + payload source
//   bench::peer_setup s{cpus, seconds, ring_bytes, max_len, nodes, idle_pauses};
//   auto a = bench::run_boost_byte_ring<bench::boost_byte_ring>(s, in);      // capacity<2 MiB>
//   auto b = bench::run_boost_pointer_queue<bench::boost_pointer_queue>(s, in);
//   auto c = bench::run_moodycamel_pointer_queue(s, in);
//
// A record is [u64 stamp = its index][payload bytes from the source window];
// consumers check it with workload::record_ok.
#pragma once

#include <harness/affinity.hpp>
#include <harness/isolated.hpp>
#include <harness/optimize.hpp>
#include <harness/record_sizes.hpp>
#include <harness/throughput.hpp>

#include <concurrentqueue/concurrentqueue.h>
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

// Boost's byte ring, in the two ways a user can size it. The compile-time
// capacity (the storage inside the object, no pointer to chase, the size a
// constant) is the configuration a Boost user picks for speed and the peer
// our targets name; the runtime-sized one is kept for comparison only.
inline constexpr std::size_t boost_ring_bytes = std::size_t{2} << 20;
using boost_byte_ring =
    boost::lockfree::spsc_queue<char, boost::lockfree::capacity<boost_ring_bytes>>;
using boost_byte_ring_runtime = boost::lockfree::spsc_queue<char>;

// A fresh ring of each kind, on the heap (the compile-time one holds its
// 2 MiB of storage inline). The runtime-sized one takes s.ring_bytes.
inline std::unique_ptr<boost_byte_ring> make_ring(const peer_setup&, boost_byte_ring*) {
    return std::make_unique<boost_byte_ring>();
}
inline std::unique_ptr<boost_byte_ring_runtime> make_ring(const peer_setup& s,
                                                          boost_byte_ring_runtime*) {
    return std::make_unique<boost_byte_ring_runtime>(s.ring_bytes);
}

// Boost's byte ring has no in-place claim: a record is written as a 12-byte
// prefix (u32 length, u64 stamp) and the rest of the payload, two bulk pushes
// after one write_available() check, and read back as a 4-byte pop of the
// length and a bulk pop of the record into a local buffer. Of the ways we
// tried this was the fastest here (one bulk pop of everything available,
// parsed afterwards: ~25% slower; staging prefix + payload for one push:
// ~3x slower).
template <class Ring>
run_result run_boost_byte_ring(const peer_setup& s, const workload& in) {
    auto q = make_ring(s, static_cast<Ring*>(nullptr));
    // Touch every page once, as logbuf's make() does with its memset, so the
    // first lap takes no page faults.
    {
        std::vector<char> chunk(4096, 'x');
        for (std::size_t done = 0; done <= q->write_available(); done += chunk.size()) {
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

// What users of a pointer queue do for variable-length messages: one
// malloc'ed record per message, the pointer through the queue, free() on the
// consumer.
struct heap_record {
    std::uint64_t len;  // the payload follows, 8-byte aligned
    [[nodiscard]] std::byte* payload() noexcept { return reinterpret_cast<std::byte*>(this + 1); }

    [[nodiscard]] static heap_record* make(const workload& in, std::uint64_t i) {
        const std::uint32_t len = in.sizes.size(i);
        auto* r = static_cast<heap_record*>(std::malloc(sizeof(heap_record) + len));
        if (r == nullptr) std::abort();
        r->len = len;
        in.write_record(i, r->payload(), len);
        return r;
    }
};

// boost::lockfree::queue<T*> in its two bounded configurations: nodes
// preallocated at run time (`bounded_push` never allocates), or a
// compile-time capacity (fixed_sized: an array of nodes addressed by 16-bit
// indices, at most 65535). Both hold boost_queue_nodes records in flight.
inline constexpr std::size_t boost_queue_capacity = 4096;
using boost_pointer_queue =
    boost::lockfree::queue<heap_record*, boost::lockfree::capacity<boost_queue_capacity>>;
using boost_pointer_queue_runtime = boost::lockfree::queue<heap_record*>;

inline std::unique_ptr<boost_pointer_queue> make_queue(const peer_setup&, boost_pointer_queue*) {
    return std::make_unique<boost_pointer_queue>();
}
inline std::unique_ptr<boost_pointer_queue_runtime> make_queue(const peer_setup& s,
                                                               boost_pointer_queue_runtime*) {
    return std::make_unique<boost_pointer_queue_runtime>(s.boost_queue_nodes);
}

template <class Queue>
run_result run_boost_pointer_queue(const peer_setup& s, const workload& in) {
    auto q = make_queue(s, static_cast<Queue*>(nullptr));
    return run_throughput_pair(
        s.cpus, s.seconds, in.sizes,
        [&](std::uint64_t i) {
            heap_record* r = heap_record::make(in, i);
            while (!q->bounded_push(r))
                cpu_relax();
        },
        [&](const run_length& total) {
            std::uint64_t next = 0, bad = 0;
            heap_record* r = nullptr;
            for (;;) {
                if (!q->pop(r)) {
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

// moodycamel::ConcurrentQueue<T*> (an MPMC queue; per-producer sub-queues)
// at its fastest: a producer token, a consumer token and bulk dequeues of
// up to 64; blocks for boost_queue_nodes records preallocated and
// try_enqueue, so it is bounded like the others and never allocates after
// construction.
inline run_result run_moodycamel_pointer_queue(const peer_setup& s, const workload& in) {
    using queue = moodycamel::ConcurrentQueue<heap_record*>;
    auto q = std::make_unique<queue>(s.boost_queue_nodes);
    // Each token is written by its own thread on every call: one allocation
    // (and cache line) each.
    auto producer_token = isolate(moodycamel::ProducerToken(*q));
    auto consumer_token = isolate(moodycamel::ConsumerToken(*q));
    return run_throughput_pair(
        s.cpus, s.seconds, in.sizes,
        [&](std::uint64_t i) {
            heap_record* r = heap_record::make(in, i);
            while (!q->try_enqueue(*producer_token, r))
                cpu_relax();
        },
        [&](const run_length& total) {
            constexpr std::size_t bulk = 64;
            heap_record* batch[bulk];
            std::uint64_t next = 0, bad = 0;
            for (;;) {
                const std::size_t n = q->try_dequeue_bulk(*consumer_token, batch, bulk);
                if (n == 0) {
                    if (total.done(next)) break;
                    s.idle();
                    continue;
                }
                for (std::size_t k = 0; k < n; ++k) {
                    heap_record* r = batch[k];
                    bad += !in.record_ok(next, r->payload(), r->len);
                    ++next;
                    std::free(r);
                }
            }
            return consumed{next, bad};
        });
}

}  // namespace bench
