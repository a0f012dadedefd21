// queue_bench - the queue layer against its peers, in one run, side by side.
//
//   queue_bench [--reps=7] [--seconds=0.25] [--quick] ...   the full report (see usage())
//   queue_bench --count-ops=10000                           single-threaded hot paths, for
//                                                           callgrind/perf instruction counts
//   queue_bench --gbench [Google Benchmark flags]           the uncontended micro costs under
//                                                           Google Benchmark's runner
//
// Throughput: a producer and a consumer pinned on two cores move the same
// seeded sequence of random 8-1024-byte records through
//   logbuf spsc and mpsc (one producer), 2 MiB ring, each used through the
//     std::pair make() returns and with each handle in its own allocation;
//   boost::lockfree::spsc_queue<char, capacity<2 MiB>> used as a byte ring
//     (length prefix, bulk push, bulk pop into a local buffer), and the
//     runtime-sized spsc_queue<char> for comparison;
//   boost::lockfree::queue<record*> (capacity<4096>, and 4096 runtime nodes)
//     and moodycamel::ConcurrentQueue<record*> (tokens, bulk dequeue), one
//     heap record per message;
// and one thread memcpy's the same sequence into a 2 MiB buffer as the
// bandwidth reference. Every record carries its sequence number in its first
// 8 bytes; the consumer checks it, the length and the last byte. Peers'
// configurations: harness/peers.hpp.
//
// Per-operation cost (one thread, nothing contended): producer claim + 64-byte
// copy + commit and consumer claim + read + release, for logbuf and the Boost
// byte ring (compile-time capacity), amortised over batches of 10 000 and
// timed one by one.
//
// Contenders alternate within every repetition; the report gives medians,
// min-max spreads and ratios paired per repetition. It reports, it never fails.

#include <logbuf/queue/mpsc.hpp>
#include <logbuf/queue/spsc.hpp>

#include <harness/harness.hpp>

#include <benchmark/benchmark.h>
#include <boost/lockfree/queue.hpp>
#include <boost/lockfree/spsc_queue.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <iostream>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace {

namespace spsc = logbuf::queue::spsc;
namespace mpsc = logbuf::queue::mpsc;
// Boost's byte ring at its fastest: compile-time capacity (harness/peers.hpp).
using byte_ring = bench::boost_byte_ring;
using input = bench::workload;

// ---------------------------------------------------------------------------
// Configuration and the shared input

struct config {
    std::size_t ring_bytes = 2 << 20;
    std::uint32_t min_len = 8;  // >= 8: every record holds its sequence stamp
    std::uint32_t max_len = 1024;
    std::uint64_t seed = 1;
    int reps = 7;
    double seconds = 0.25;  // target length of one throughput run
    std::size_t batch = 10000;
    int batches = 10;                      // micro batches per contender per repetition
    std::size_t boost_queue_nodes = 4096;  // ~2 MiB of average records in flight
    int idle_pauses = 1;                   // consumer: cpu_relax() calls after an empty poll
    bench::cpu_pair cpus;
};

// The Boost contenders' (harness/peers.hpp) view of the configuration.
bench::peer_setup peer_setup_of(const config& c) {
    return {c.cpus, c.seconds, c.ring_bytes, c.max_len, c.boost_queue_nodes, c.idle_pauses};
}

// ---------------------------------------------------------------------------
// Throughput contenders: each moves whole laps of the record sequence through
// a fresh queue for cfg.seconds (bench::run_throughput_pair does the timing).

// What a consumer does when it finds nothing: cfg.idle_pauses spin-wait hints.
void idle(const config& cfg) noexcept {
    for (int k = 0; k < cfg.idle_pauses; ++k)
        bench::cpu_relax();
}

using bench::consumed;
using bench::run_length;
using bench::run_result;

// Where the two handles live while the threads use them: side by side in the
// std::pair make() returns (what `auto [tx, rx] = make(n)` gives a user), or
// each moved into an allocation of its own cache lines. The ring must be as
// fast either way: nothing either thread writes per record may share a line
// with the other's handle.
enum class handles { in_pair, isolated };

template <class Producer>
run_result move_records(Producer& tx, logbuf::queue::consumer& rx, const config& cfg,
                        const input& in) {
    return bench::run_throughput_pair(
        cfg.cpus, cfg.seconds, in.sizes,
        [&](std::uint64_t i) {
            const std::uint32_t len = in.sizes.size(i);
            auto claim = tx.try_claim(len);
            while (!claim) {
                bench::cpu_relax();
                claim = tx.try_claim(len);
            }
            std::byte* d = claim.data();
            std::memcpy(d, &i, 8);
            std::memcpy(d + 8, in.payload(i) + 8, len - 8);
            claim.commit();
        },
        [&](const run_length& total) {
            std::uint64_t next = 0, bad = 0;
            for (;;) {
                const std::size_t got = rx.drain([&](std::span<const std::byte> r) {
                    bad += !in.record_ok(next, r.data(), r.size());
                    ++next;
                });
                if (got != 0) continue;
                if (total.done(next)) break;
                idle(cfg);
            }
            return consumed{next, bad};
        });
}

template <class Make>
run_result run_logbuf(Make make, handles where, const config& cfg, const input& in) {
    auto ends = make(cfg.ring_bytes);
    if (where == handles::in_pair) return move_records(ends.first, ends.second, cfg, in);
    auto tx = bench::isolate(std::move(ends.first));
    auto rx = bench::isolate(std::move(ends.second));
    return move_records(*tx, *rx, cfg, in);
}

// The bandwidth reference: one thread copies the same records into a 2 MiB
// buffer, 8-byte aligned like the ring, wrapping when a record does not fit.
run_result run_memcpy(const config& cfg, const input& in) {
    std::vector<std::byte> dst(cfg.ring_bytes);
    std::memset(dst.data(), 0, dst.size());
    std::byte* out = dst.data();
    bench::do_not_optimize(out);
    std::uint64_t at = 0;
    const run_result r = bench::run_throughput_single(
        cfg.cpus.producer, cfg.seconds, in.sizes, [&](std::uint64_t i) {
            const std::uint32_t len = in.sizes.size(i);
            if (at + len > cfg.ring_bytes) at = 0;
            std::memcpy(out + at, in.payload(i), len);
            at += (len + 7) & ~std::uint64_t{7};
        });
    bench::do_not_optimize(dst);  // the copies are observable
    return r;
}

// ---------------------------------------------------------------------------
// The uncontended hot paths, written once: the micro benchmarks time them,
// --count-ops runs them for instruction counts, --gbench hands them to Google
// Benchmark. Each returns false when the ring was full / empty.

constexpr std::size_t micro_len = 64;

template <class Producer>
[[gnu::always_inline]] inline bool produce_64(Producer& tx, const std::byte* src) noexcept {
    auto claim = tx.try_claim(micro_len);
    if (!claim) [[unlikely]]
        return false;
    std::memcpy(claim.data(), src, micro_len);
    claim.commit();
    return true;
}

// Claim + read (copy the payload out, as Boost's pop must) + release.
[[gnu::always_inline]] inline bool consume_copy(logbuf::queue::consumer& rx,
                                                std::byte* out) noexcept {
    auto r = rx.try_claim();
    if (!r) [[unlikely]]
        return false;
    std::memcpy(out, r.data(), r.size());
    return true;  // the destructor releases
}

// Claim + read the 8-byte stamp in place + release: reading a record where
// it lies, which is what the claim API is for.
[[gnu::always_inline]] inline bool consume_in_place(logbuf::queue::consumer& rx) noexcept {
    auto r = rx.try_claim();
    if (!r) [[unlikely]]
        return false;
    std::uint64_t stamp = bench::workload::read_stamp(r.data());
    bench::do_not_optimize(stamp);
    return true;
}

// Boost byte ring: check room, push a 4-byte length, push the payload.
[[gnu::always_inline]] inline bool boost_push_64(byte_ring& q, const std::byte* src) noexcept {
    if (q.write_available() < 4 + micro_len) [[unlikely]]
        return false;
    const std::uint32_t len = micro_len;
    q.push(reinterpret_cast<const char*>(&len), 4);
    q.push(reinterpret_cast<const char*>(src), micro_len);
    return true;
}

// Boost byte ring: pop the length, pop the payload into `out`. (Uncontended,
// so the payload is always all there once the length is.)
[[gnu::always_inline]] inline bool boost_pop(byte_ring& q, std::byte* out) noexcept {
    std::uint32_t len;
    if (q.pop(reinterpret_cast<char*>(&len), 4) != 4) [[unlikely]]
        return false;
    q.pop(reinterpret_cast<char*>(out), len);
    return true;
}

template <class Producer>
void fill_64(Producer& tx, const std::byte* src, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
        if (!produce_64(tx, src)) std::abort();  // sized to fit: a bug
}

void empty_ring(logbuf::queue::consumer& rx) {
    rx.drain([](std::span<const std::byte>) {});
}

void boost_fill_64(byte_ring& q, const std::byte* src, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
        if (!boost_push_64(q, src)) std::abort();
}

void boost_empty(byte_ring& q) {
    char scratch[4096];
    while (q.pop(scratch, sizeof scratch) != 0) {
    }
}

// ---------------------------------------------------------------------------
// --count-ops=N: each hot path N times in its own non-inlined loop, nothing
// else timed or threaded, so an instruction counter (callgrind, perf) gives
// per-op counts: inclusive instructions of the function / N. scripts/bench
// runs this under callgrind. Each loop adds ~3 instructions per op of its
// own (counter, compare, branch).

[[gnu::noinline]] void count_spsc_produce(spsc::producer& tx, const std::byte* src, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
        bench::do_not_optimize(produce_64(tx, src));
}
[[gnu::noinline]] void count_mpsc_produce(mpsc::producer& tx, const std::byte* src, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
        bench::do_not_optimize(produce_64(tx, src));
}
[[gnu::noinline]] void count_consume_in_place(logbuf::queue::consumer& rx, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
        bench::do_not_optimize(consume_in_place(rx));
}
[[gnu::noinline]] void count_consume_copy_release(logbuf::queue::consumer& rx, std::byte* out,
                                                  std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
        bench::do_not_optimize(consume_copy(rx, out));
}
[[gnu::noinline]] void count_drain_copy(logbuf::queue::consumer& rx, std::byte* out,
                                        std::size_t n) {
    rx.drain([out](std::span<const std::byte> r) { std::memcpy(out, r.data(), r.size()); }, n);
}
[[gnu::noinline]] void count_boost_push(byte_ring& q, const std::byte* src, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
        bench::do_not_optimize(boost_push_64(q, src));
}
[[gnu::noinline]] void count_boost_pop(byte_ring& q, std::byte* out, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
        bench::do_not_optimize(boost_pop(q, out));
}

int count_ops(const config& cfg, std::size_t n) {
    if (n * (micro_len + 8) > cfg.ring_bytes) {
        std::fprintf(stderr, "--count-ops: at most %zu ops fit the ring\n",
                     cfg.ring_bytes / (micro_len + 8));
        return 2;
    }
    const auto src = bench::random_bytes(micro_len, cfg.seed);
    std::vector<std::byte> out(micro_len);
    {
        auto [tx, rx] = spsc::make(cfg.ring_bytes);
        fill_64(tx, src.data(), n);  // warm: first lap's page walk and caches off the books
        empty_ring(rx);
        count_spsc_produce(tx, src.data(), n);
        count_consume_in_place(rx, n);
        fill_64(tx, src.data(), n);
        count_consume_copy_release(rx, out.data(), n);
        fill_64(tx, src.data(), n);
        count_drain_copy(rx, out.data(), n);
    }
    {
        auto [tx, rx] = mpsc::make(cfg.ring_bytes);
        fill_64(tx, src.data(), n);
        empty_ring(rx);
        count_mpsc_produce(tx, src.data(), n);
        empty_ring(rx);
    }
    {
        const auto ring = std::make_unique<byte_ring>();
        byte_ring& q = *ring;
        boost_fill_64(q, src.data(), n);
        boost_empty(q);
        count_boost_push(q, src.data(), n);
        count_boost_pop(q, out.data(), n);
    }
    std::printf("count-ops: %zu operations per function\n", n);
    std::printf("  count_spsc_produce          spsc claim + 64 B copy + commit\n");
    std::printf("  count_mpsc_produce          mpsc claim + 64 B copy + commit\n");
    std::printf("  count_consume_in_place       consumer claim + read 8 B in place + release\n");
    std::printf("  count_consume_copy_release  consumer claim + copy 64 B out + release\n");
    std::printf("  count_drain_copy            drain(), per record: copy 64 B out + release\n");
    std::printf(
        "  count_boost_push            boost byte ring: write_available + push 4 B + push 64 B\n");
    std::printf("  count_boost_pop             boost byte ring: pop 4 B + pop 64 B\n");
    return 0;
}

// ---------------------------------------------------------------------------
// --gbench: the same uncontended costs under Google Benchmark. When a ring
// fills (or empties) the timer pauses while it is reset, every ~29 000 ops.

template <class Make>
void bm_produce(benchmark::State& state, Make make) {
    auto [tx, rx] = make(std::size_t{2} << 20);
    const auto src = bench::random_bytes(micro_len, 1);
    for (auto _ : state) {
        if (!produce_64(tx, src.data())) [[unlikely]] {
            state.PauseTiming();
            empty_ring(rx);
            state.ResumeTiming();
            produce_64(tx, src.data());
        }
    }
    state.SetItemsProcessed(state.iterations());
}

void bm_consume(benchmark::State& state) {
    auto [tx, rx] = spsc::make(std::size_t{2} << 20);
    const auto src = bench::random_bytes(micro_len, 1);
    std::vector<std::byte> out(micro_len);
    const std::size_t fill = (std::size_t{2} << 20) / (micro_len + 8) - 1;
    for (auto _ : state) {
        if (!consume_copy(rx, out.data())) [[unlikely]] {
            state.PauseTiming();
            fill_64(tx, src.data(), fill);
            state.ResumeTiming();
            consume_copy(rx, out.data());
        }
    }
    state.SetItemsProcessed(state.iterations());
}

void bm_boost_push(benchmark::State& state) {
    const auto ring = std::make_unique<byte_ring>();
    byte_ring& q = *ring;
    const auto src = bench::random_bytes(micro_len, 1);
    for (auto _ : state) {
        if (!boost_push_64(q, src.data())) [[unlikely]] {
            state.PauseTiming();
            boost_empty(q);
            state.ResumeTiming();
            boost_push_64(q, src.data());
        }
    }
    state.SetItemsProcessed(state.iterations());
}

void bm_boost_pop(benchmark::State& state) {
    const auto ring = std::make_unique<byte_ring>();
    byte_ring& q = *ring;
    const auto src = bench::random_bytes(micro_len, 1);
    std::vector<std::byte> out(micro_len);
    const std::size_t fill = (std::size_t{2} << 20) / (micro_len + 4) - 1;
    for (auto _ : state) {
        if (!boost_pop(q, out.data())) [[unlikely]] {
            state.PauseTiming();
            boost_fill_64(q, src.data(), fill);
            state.ResumeTiming();
            boost_pop(q, out.data());
        }
    }
    state.SetItemsProcessed(state.iterations());
}

int run_gbench(int argc, char** argv) {
    benchmark::RegisterBenchmark("spsc claim+copy64+commit",
                                 [](benchmark::State& s) { bm_produce(s, spsc::make); });
    benchmark::RegisterBenchmark("mpsc claim+copy64+commit",
                                 [](benchmark::State& s) { bm_produce(s, mpsc::make); });
    benchmark::RegisterBenchmark("boost byte ring push 4+64", bm_boost_push);
    benchmark::RegisterBenchmark("consumer claim+copy64+release", bm_consume);
    benchmark::RegisterBenchmark("boost byte ring pop 4+64", bm_boost_pop);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
    bench::pin_this_thread(bench::default_cpu_pair().producer);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}

// ---------------------------------------------------------------------------
// The report

struct throughput_contender {
    const char* name;
    std::function<run_result(const config&)> run;
};

constexpr const char* row_spsc = "logbuf spsc, make() pair";
constexpr const char* row_spsc_own = "logbuf spsc, own allocations";
constexpr const char* row_mpsc = "logbuf mpsc 1 prod, make() pair";
constexpr const char* row_mpsc_own = "logbuf mpsc 1 prod, own allocations";
constexpr const char* row_boost_ring = "boost spsc_queue<char,capacity<2M>>";
constexpr const char* row_boost_ring_rt = "boost spsc_queue<char>(2M) runtime";
constexpr const char* row_boost_queue = "boost queue<T*,capacity<4096>>+heap";
constexpr const char* row_boost_queue_rt = "boost queue<T*>(4096)+heap";
constexpr const char* row_moodycamel = "moodycamel ConcurrentQueue<T*>+heap";
constexpr const char* row_memcpy = "memcpy, 1 thread (reference)";
constexpr std::size_t row_width = 38;

// The faster of Boost's two queue<T*> configurations in this run (by median).
const char* best_boost_queue(const bench::results& res) {
    return res.summary(row_boost_queue, "GB/s").median >=
                   res.summary(row_boost_queue_rt, "GB/s").median
               ? row_boost_queue
               : row_boost_queue_rt;
}

void throughput_section(const config& cfg, const input& in, bench::results& res) {
    const auto peer = [&](auto runner) {
        return [&in, runner](const config& c) { return runner(peer_setup_of(c), in); };
    };
    const std::vector<throughput_contender> contenders = {
        {row_spsc,
         [&](const config& c) { return run_logbuf(spsc::make, handles::in_pair, c, in); }},
        {row_spsc_own,
         [&](const config& c) { return run_logbuf(spsc::make, handles::isolated, c, in); }},
        {row_mpsc,
         [&](const config& c) { return run_logbuf(mpsc::make, handles::in_pair, c, in); }},
        {row_mpsc_own,
         [&](const config& c) { return run_logbuf(mpsc::make, handles::isolated, c, in); }},
        {row_boost_ring, peer(bench::run_boost_byte_ring<bench::boost_byte_ring>)},
        {row_boost_ring_rt, peer(bench::run_boost_byte_ring<bench::boost_byte_ring_runtime>)},
        {row_boost_queue, peer(bench::run_boost_pointer_queue<bench::boost_pointer_queue>)},
        {row_boost_queue_rt,
         peer(bench::run_boost_pointer_queue<bench::boost_pointer_queue_runtime>)},
        {row_moodycamel, peer(bench::run_moodycamel_pointer_queue)},
        {row_memcpy, [&](const config& c) { return run_memcpy(c, in); }},
    };
    // A short warm-up run each (page tables, caches, malloc arenas), discarded.
    config warm = cfg;
    warm.seconds = std::min(cfg.seconds, 0.05);
    for (const auto& c : contenders)
        c.run(warm);

    std::uint64_t errors = 0;
    std::vector<double> round_trips;
    bench::run_alternating(cfg.reps, contenders.size(), [&](std::size_t k, int) {
        // Which state the two cores are in for this run (harness/coupling.hpp).
        const double rtt = bench::line_round_trip_ns(cfg.cpus);
        round_trips.push_back(rtt);
        const run_result r = contenders[k].run(cfg);
        bench::add_throughput(res, contenders[k].name, r);
        res.add(contenders[k].name, "rtt", rtt);
        errors += r.errors;
    });

    std::printf("\nthroughput: random %u-%u-byte records (mean %.1f B, seed %" PRIu64
                "), %zu KiB ring, producer CPU %d, consumer CPU %d\n",
                cfg.min_len, cfg.max_len, in.sizes.mean(), cfg.seed, cfg.ring_bytes / 1024,
                cfg.cpus.producer, cfg.cpus.consumer);
    std::printf("%d repetitions of %.2f s per contender, contenders alternating\n", cfg.reps,
                cfg.seconds);
    std::printf(
        "peers: boost byte rings push a 12 B prefix + the rest, pop 4 B + the record; the\n"
        "compile-time one (capacity<%zu>) is the target's peer, the runtime-sized one for\n"
        "comparison. Pointer queues carry one malloc'ed record per message, bounded at %zu in\n"
        "flight: boost bounded_push on capacity<%zu> (fixed_sized, array nodes) or on %zu\n"
        "preallocated nodes; moodycamel with producer + consumer tokens, try_enqueue,\n"
        "try_dequeue_bulk of 64.\n",
        bench::boost_ring_bytes, cfg.boost_queue_nodes, bench::boost_queue_capacity,
        cfg.boost_queue_nodes);
    auto columns = bench::throughput_columns();
    columns.push_back({"rtt", "line RTT ns", 0});
    bench::print_table(
        std::cout, res,
        {row_spsc, row_spsc_own, row_mpsc, row_mpsc_own, row_boost_ring, row_boost_ring_rt,
         row_boost_queue, row_boost_queue_rt, row_moodycamel, row_memcpy},
        columns, row_width);
    const bench::stats rtt = bench::summarize(round_trips);
    std::printf(
        "cache-line round trip between the two CPUs before each run: median %.0f ns "
        "[%.0f-%.0f]%s\n",
        rtt.median, rtt.min, rtt.max,
        rtt.max > 1.5 * rtt.min ? "  <-- the cores' coupling changed during the run" : "");
    std::printf("consumer check failures: %" PRIu64 "%s\n", errors, errors ? "  <-- BROKEN" : "");

    // Ratios over every repetition, then - when the cores' coupling changed
    // during the run - separately for the runs that saw each state.
    const double split = 2 * rtt.min;
    const bool two_states = rtt.max >= split;
    const auto ratio_line = [&](const char* what, const char* a, const char* b) {
        bench::print_ratio(std::cout, res, what, a, b, "GB/s");
        if (!two_states) return;
        for (const bool close : {true, false}) {
            const bench::stats s = close ? res.ratio_where(a, b, "GB/s", "rtt", 0, split)
                                         : res.ratio_where(a, b, "GB/s", "rtt", split, 1e300);
            if (s.n == 0) continue;
            std::printf("      %-46s %7.3f [%.3f-%.3f]  IQR %.3f-%.3f  (%zu reps)\n",
                        close ? "  cores close (RTT < split)" : "  cores far (RTT >= split)",
                        s.median, s.min, s.max, s.q1, s.q3, s.n);
        }
    };
    std::printf("ratios (GB/s, paired per repetition): median [min-max]%s\n",
                two_states ? "; split at RTT 2x the fastest" : "");
    ratio_line("spsc / boost byte ring capacity<2M>", row_spsc, row_boost_ring);
    ratio_line("spsc / boost byte ring runtime-sized", row_spsc, row_boost_ring_rt);
    ratio_line("spsc / memcpy", row_spsc, row_memcpy);
    ratio_line("mpsc / boost queue<T*,capacity<4096>>", row_mpsc, row_boost_queue);
    ratio_line("mpsc / boost queue<T*>(4096)", row_mpsc, row_boost_queue_rt);
    ratio_line("mpsc / moodycamel<T*>", row_mpsc, row_moodycamel);
    ratio_line("mpsc / spsc", row_mpsc, row_spsc);
    ratio_line("spsc make() pair / own allocations", row_spsc, row_spsc_own);
    ratio_line("mpsc make() pair / own allocations", row_mpsc, row_mpsc_own);
    ratio_line("boost byte ring capacity<2M> / memcpy", row_boost_ring, row_memcpy);
}

constexpr const char* op_spsc_produce = "spsc  claim + copy 64 B + commit";
constexpr const char* op_mpsc_produce = "mpsc  claim + copy 64 B + commit";
constexpr const char* op_boost_push = "boost push 4 B len + push 64 B";
constexpr const char* op_consume_copy = "consumer claim + copy 64 B out + release";
constexpr const char* op_consume_in_place = "consumer claim + read 8 B in place + release";
constexpr const char* op_drain = "consumer drain(), per record, copy out";
constexpr const char* op_boost_pop = "boost pop 4 B len + pop 64 B";

void micro_section(const config& cfg, bench::results& res) {
    bench::pin_this_thread(cfg.cpus.producer);
    const auto src = bench::random_bytes(micro_len, cfg.seed);
    std::vector<std::byte> out(micro_len);
    // Named references, not structured bindings: lambdas capture them below
    // (which Clang 14 does not allow for bindings).
    auto spsc_ends = spsc::make(cfg.ring_bytes);
    auto mpsc_ends = mpsc::make(cfg.ring_bytes);
    auto& stx = spsc_ends.first;
    auto& srx = spsc_ends.second;
    auto& mtx = mpsc_ends.first;
    auto& mrx = mpsc_ends.second;
    const auto boost_ring = std::make_unique<byte_ring>();
    byte_ring& bq = *boost_ring;
    boost_fill_64(bq, src.data(), cfg.batch);  // touch the pages once
    boost_empty(bq);

    const std::size_t n = cfg.batch;
    std::uint64_t failures = 0;
    const auto check = [&](bool ok) { failures += !ok; };
    const auto nothing = [] {};

    struct micro {
        const char* name;
        bench::op_cost cost;
        std::function<void(bench::op_cost&)> run;  // `batches` batches into cost
    };
    std::vector<micro> ops;
    ops.push_back({op_spsc_produce, {}, [&](bench::op_cost& c) {
                       bench::measure_op_cost(
                           c, cfg.batches, n, nothing,
                           [&](std::size_t) { check(produce_64(stx, src.data())); },
                           [&] { empty_ring(srx); });
                   }});
    ops.push_back({op_mpsc_produce, {}, [&](bench::op_cost& c) {
                       bench::measure_op_cost(
                           c, cfg.batches, n, nothing,
                           [&](std::size_t) { check(produce_64(mtx, src.data())); },
                           [&] { empty_ring(mrx); });
                   }});
    ops.push_back({op_boost_push, {}, [&](bench::op_cost& c) {
                       bench::measure_op_cost(
                           c, cfg.batches, n, nothing,
                           [&](std::size_t) { check(boost_push_64(bq, src.data())); },
                           [&] { boost_empty(bq); });
                   }});
    ops.push_back({op_consume_copy, {}, [&](bench::op_cost& c) {
                       bench::measure_op_cost(
                           c, cfg.batches, n, [&] { fill_64(stx, src.data(), n); },
                           [&](std::size_t) { check(consume_copy(srx, out.data())); }, nothing);
                   }});
    ops.push_back({op_consume_in_place, {}, [&](bench::op_cost& c) {
                       bench::measure_op_cost(
                           c, cfg.batches, n, [&] { fill_64(stx, src.data(), n); },
                           [&](std::size_t) { check(consume_in_place(srx)); }, nothing);
                   }});
    ops.push_back(
        {op_drain, {}, [&](bench::op_cost& c) {
             // drain() is one call for the whole batch: amortised only.
             for (int b = 0; b < cfg.batches; ++b) {
                 fill_64(stx, src.data(), n);
                 std::byte* o = out.data();
                 c.amortised.push_back(
                     bench::time_batch(1,
                                       [&](std::size_t) {
                                           check(srx.drain([o](std::span<const std::byte> r) {
                                               std::memcpy(o, r.data(), r.size());
                                           }) == n);
                                       }) /
                     static_cast<double>(n));
             }
         }});
    ops.push_back({op_boost_pop, {}, [&](bench::op_cost& c) {
                       bench::measure_op_cost(
                           c, cfg.batches, n, [&] { boost_fill_64(bq, src.data(), n); },
                           [&](std::size_t) { check(boost_pop(bq, out.data())); }, nothing);
                   }});

    // Warm-up round, discarded.
    for (auto& m : ops) {
        bench::op_cost scratch;
        m.run(scratch);
    }
    bench::run_alternating(cfg.reps, ops.size(), [&](std::size_t k, int) {
        bench::op_cost rep;
        ops[k].run(rep);
        res.add(ops[k].name, "ticks/op", bench::summarize(rep.amortised).median);
        ops[k].cost.amortised.insert(ops[k].cost.amortised.end(), rep.amortised.begin(),
                                     rep.amortised.end());
        ops[k].cost.per_op.merge(rep.per_op);
    });
    bench::unpin_this_thread();

    const bench::tsc_info& t = bench::tsc();
    std::printf(
        "\nper-operation cost, one thread, uncontended, 64-byte records; amortised over "
        "batches of %zu (%d reps x %d batches),\nper-op histogram of %d x %d x %zu "
        "single timings; ticks at %.3f GHz\n",
        n, cfg.reps, cfg.batches, cfg.reps, cfg.batches, n, t.ticks_per_ns);
    std::vector<bench::op_cost_row> rows;
    for (const auto& m : ops)
        rows.push_back({m.name, &m.cost});
    bench::print_op_costs(std::cout, rows);
    std::printf("failed operations (ring unexpectedly full/empty): %" PRIu64 "%s\n", failures,
                failures ? "  <-- BROKEN" : "");
    std::printf("ratios (amortised ticks/op, paired per repetition): median [min-max]\n");
    const auto ratio_line = [&](const char* what, const char* a, const char* b) {
        bench::print_ratio(std::cout, res, what, a, b, "ticks/op");
    };
    ratio_line("spsc produce / boost push", op_spsc_produce, op_boost_push);
    ratio_line("mpsc produce / boost push", op_mpsc_produce, op_boost_push);
    ratio_line("consumer claim+copy+release / boost pop", op_consume_copy, op_boost_pop);
    ratio_line("consumer claim+read 8 B+release / boost pop", op_consume_in_place, op_boost_pop);
    ratio_line("consumer drain per record / boost pop", op_drain, op_boost_pop);
}

void targets_section(const bench::results& res, bool micro) {
    std::printf("\ntargets (judged on the median of paired ratios; a report, not a test)\n");
    const char* boost_queue = best_boost_queue(res);
    std::printf("  (make() pair rows; boost queue<T*> row: the faster here, %s)\n", boost_queue);
    bench::print_target(std::cout, "spsc throughput >= 3x boost byte ring capacity<2M>",
                        res.ratio(row_spsc, row_boost_ring, "GB/s"), 3.0, bench::at_least);
    bench::print_target(std::cout, "spsc throughput >= 0.6x memcpy",
                        res.ratio(row_spsc, row_memcpy, "GB/s"), 0.60, bench::at_least);
    bench::print_target(std::cout, "mpsc (1 producer) >= 40x boost queue<T*> + heap",
                        res.ratio(row_mpsc, boost_queue, "GB/s"), 40.0, bench::at_least);
    bench::print_target(std::cout, "mpsc (1 producer) >= 0.85x spsc",
                        res.ratio(row_mpsc, row_spsc, "GB/s"), 0.85, bench::at_least);
    bench::print_target(std::cout, "spsc make() pair >= 0.95x own allocations",
                        res.ratio(row_spsc, row_spsc_own, "GB/s"), 0.95, bench::at_least);
    bench::print_target(std::cout, "mpsc make() pair >= 0.95x own allocations",
                        res.ratio(row_mpsc, row_mpsc_own, "GB/s"), 0.95, bench::at_least);
    if (!micro) return;
    bench::print_target(std::cout, "producer claim+copy+commit <= 0.5x boost push",
                        res.ratio(op_spsc_produce, op_boost_push, "ticks/op"), 0.5, bench::at_most);
    bench::print_target(std::cout, "  (mpsc producer, same target)",
                        res.ratio(op_mpsc_produce, op_boost_push, "ticks/op"), 0.5, bench::at_most);
    bench::print_target(std::cout, "consumer claim+copy out+release <= 1x boost pop",
                        res.ratio(op_consume_copy, op_boost_pop, "ticks/op"), 1.0, bench::at_most);
    bench::print_target(std::cout, "  (claim+read 8 B in place+release, same target)",
                        res.ratio(op_consume_in_place, op_boost_pop, "ticks/op"), 1.0,
                        bench::at_most);
}

void usage() {
    std::puts(
        "queue_bench [options]\n"
        "  --reps=N            repetitions, contenders alternating in each (7)\n"
        "  --seconds=S         target length of one throughput run (0.25)\n"
        "  --batch=N           operations per micro batch (10000)\n"
        "  --batches=N         micro batches per contender per repetition (10)\n"
        "  --ring=BYTES        ring capacity (2097152)\n"
        "  --seed=N            record-size sequence seed (1)\n"
        "  --producer-cpu=N --consumer-cpu=N   (first two allowed CPUs)\n"
        "  --idle-pauses=N     consumer spin-wait hints after an empty poll, every queue (1)\n"
        "  --realtime          two-thread runs at SCHED_FIFO 1 once pinned (root; a busy machine)\n"
        "  --only=throughput|micro\n"
        "  --quick             --reps=3 --seconds=0.1 --batches=4\n"
        "  --count-ops=N       run each hot path N times single-threaded (for callgrind)\n"
        "  --gbench [flags]    micro costs under Google Benchmark (first argument only)");
}

int run(int argc, char** argv) {
    if (argc > 1 && std::strcmp(argv[1], "--gbench") == 0) {
        argv[1] = argv[0];  // Google Benchmark sees the program name, then its own flags
        return run_gbench(argc - 1, argv + 1);
    }
    bench::options opt(argc, argv);
    if (opt.has("help")) {
        usage();
        return 0;
    }
    config cfg;
    const bool quick = opt.has("quick");
    cfg.reps = static_cast<int>(opt.get_int("reps", quick ? 3 : cfg.reps));
    cfg.seconds = opt.get_double("seconds", quick ? 0.1 : cfg.seconds);
    cfg.batch = static_cast<std::size_t>(opt.get_int("batch", static_cast<long long>(cfg.batch)));
    cfg.batches = static_cast<int>(opt.get_int("batches", quick ? 4 : cfg.batches));
    cfg.ring_bytes =
        static_cast<std::size_t>(opt.get_int("ring", static_cast<long long>(cfg.ring_bytes)));
    cfg.seed = static_cast<std::uint64_t>(opt.get_int("seed", static_cast<long long>(cfg.seed)));
    cfg.cpus = bench::default_cpu_pair();
    cfg.cpus.producer = static_cast<int>(opt.get_int("producer-cpu", cfg.cpus.producer));
    cfg.cpus.consumer = static_cast<int>(opt.get_int("consumer-cpu", cfg.cpus.consumer));
    cfg.idle_pauses = static_cast<int>(opt.get_int("idle-pauses", cfg.idle_pauses));
    bench::realtime_pairs() = opt.has("realtime");
    const std::string only = opt.get("only", "");
    const long long count = opt.get_int("count-ops", 0);
    opt.reject_unknown();
    if (cfg.reps < 1 || cfg.batches < 1 || cfg.batch < 1 ||
        cfg.batch * (micro_len + 8) > cfg.ring_bytes) {
        std::fprintf(stderr, "queue_bench: bad --reps/--batches/--batch/--ring\n");
        return 2;
    }
    if (count > 0) return count_ops(cfg, static_cast<std::size_t>(count));

    std::printf("logbuf queue_bench\n");
    bench::print_machine(std::cout);
    const input in(cfg.seed, cfg.min_len, cfg.max_len);
    bench::results res;
    if (only.empty() || only == "throughput") throughput_section(cfg, in, res);
    if (only.empty() || only == "micro") micro_section(cfg, res);
    if (only.empty() || only == "throughput") targets_section(res, only.empty());
    std::printf("\nload at end: %.0f%% of CPU time busy in the last 0.5 s; load average %s\n",
                bench::cpu_busy_percent(), bench::load_average().c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return bench::guarded_main("queue_bench", argc, argv, run);
}
