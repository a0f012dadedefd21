// channel_bench - what the channel layer adds to the queue layer, in one run,
// side by side.
//
//   channel_bench [--reps=7] [--seconds=0.25] [--quick] ...   the full report (see usage())
//   channel_bench --count-ops=10000                          single-threaded hot paths, for
//                                                            callgrind instruction counts
//
// Sender cost (one thread, nothing parked, nothing contended): try_send(64) +
// 64-byte copy + commit() + notify(), in both fence modes, next to the raw
// queue's try_claim(64) + copy + commit(), SPSC and MPSC; amortised over
// batches of 10 000, timed one by one (per-op histogram) and in groups of 16
// (the counter moves in steps of ~20 ticks on some machines, too coarse for a
// one-op timing to resolve a few ticks). The channel - queue difference is
// paired per repetition.
//
// Wake-up latency: a receiver blocked in recv() (park timeout 10 s), seen
// asleep in /proc/self/task/<tid>/stat (state 'S': only futex_wait sleeps in
// recv()); the sender stamps the timestamp counter and steady_clock into a
// record, commits and notify()s; the receiver takes the difference as soon as
// recv() returns. Both fence modes, notified at once when the receiver is
// seen asleep and after it has slept a while (--wake-dwell-ms).
//
// Throughput: a sender and a receiver pinned on two cores move the seeded
// sequence of random 8-1024-byte records of queue_bench through a 2 MiB
// channel (send + copy + commit + notify per record; the receiver recv()s
// one record at a time, or recv()s and then drain()s what else is there, and
// parks whenever the ring runs dry), next to queue_bench's peers:
// boost::lockfree::spsc_queue<char, capacity<2 MiB>> as a byte ring and
// boost::lockfree::queue<record*, capacity<4096>> with a heap record per
// message (harness/peers.hpp, the same code as queue_bench's), and the raw
// SPSC queue with a spinning consumer.
//
// Instruction counts (exact and repeatable, unlike any timing here):
//   valgrind --tool=callgrind --callgrind-out-file=cb.out channel_bench --count-ops=10000
//   callgrind_annotate --inclusive=yes cb.out | awk '/::count_[a-z_]+\(/ {
//       match($0, /count_[a-z_]+/); name = substr($0, RSTART, RLENGTH);
//       gsub(",", "", $1); printf "%-28s %6.1f\n", name, $1 / 10000 }'
// inclusive instructions / 10000 = per op, ~3 of them the loop's own.
//
// Contenders alternate within every repetition; the report gives medians,
// min-max spreads and paired ratios/differences. It reports, it never fails.

#include <logbuf/channel/mpsc.hpp>
#include <logbuf/channel/spsc.hpp>
#include <logbuf/queue/mpsc.hpp>
#include <logbuf/queue/spsc.hpp>

#include <harness/harness.hpp>

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
#include <thread>
#include <vector>

#if defined(__linux__)
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace {

namespace qspsc = logbuf::queue::spsc;
namespace qmpsc = logbuf::queue::mpsc;
namespace cspsc = logbuf::channel::spsc;
namespace cmpsc = logbuf::channel::mpsc;
using logbuf::channel::fence_mode;
using input = bench::workload;  // harness/peers.hpp: the same records as queue_bench
using clock_type = std::chrono::steady_clock;

const char* mode_name(fence_mode m) {
    return m == fence_mode::membarrier ? "membarrier" : "fences";
}

// ---------------------------------------------------------------------------
// Configuration

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
    int wake_trials = 50;                  // wake-ups per contender per repetition
    double wake_dwell_ms = 2.0;            // how long the receiver sleeps in the "dwell" rows
    bench::cpu_pair cpus;
};

// The Boost contenders' (harness/peers.hpp) view of the configuration.
bench::peer_setup peer_setup_of(const config& c) {
    return {c.cpus, c.seconds, c.ring_bytes, c.max_len, c.boost_queue_nodes, 1};
}

// "a - b" per repetition (a's i-th sample minus b's i-th), summarised.
bench::stats paired_difference(const bench::results& r, const std::string& a, const std::string& b,
                               const std::string& metric) {
    const auto& x = r.samples(a, metric);
    const auto& y = r.samples(b, metric);
    std::vector<double> d;
    for (std::size_t i = 0; i < std::min(x.size(), y.size()); ++i)
        d.push_back(x[i] - y[i]);
    return bench::summarize(std::move(d));
}

// ---------------------------------------------------------------------------
// The uncontended sender hot paths, written once: the micro section times
// them, --count-ops runs them for instruction counts. Each returns false when
// the ring was full.

constexpr std::size_t micro_len = 64;
constexpr std::size_t group = 16;  // ops per timing in the grouped per-op histogram

// The queue layer: claim + copy + commit.
template <class Producer>
[[gnu::always_inline]] inline bool produce_64(Producer& tx, const std::byte* src) noexcept {
    auto claim = tx.try_claim(micro_len);
    if (!claim) [[unlikely]]
        return false;
    std::memcpy(claim.data(), src, micro_len);
    claim.commit();
    return true;
}

// The channel's hot path: try_send + copy + commit + notify (nobody parked:
// notify() is a barrier and one load).
template <class Sender>
[[gnu::always_inline]] inline bool send_64(Sender& tx, const std::byte* src) noexcept {
    auto claim = tx.try_send(micro_len);
    if (!claim) [[unlikely]]
        return false;
    std::memcpy(claim.data(), src, micro_len);
    claim.commit();
    tx.notify();
    return true;
}

// The same without notify(): what try_send alone adds to the queue.
template <class Sender>
[[gnu::always_inline]] inline bool send_64_no_notify(Sender& tx, const std::byte* src) noexcept {
    auto claim = tx.try_send(micro_len);
    if (!claim) [[unlikely]]
        return false;
    std::memcpy(claim.data(), src, micro_len);
    claim.commit();
    return true;
}

// Empties a ring through its consumer or a channel's receiver (both drain()).
template <class Consumer>
void empty_ring(Consumer& rx) {
    rx.drain([](std::span<const std::byte>) {});
}

// ---------------------------------------------------------------------------
// --count-ops=N: each hot path N times in its own non-inlined loop. The two
// fence modes run the same code (the mode is a run-time field), so each loop
// first moves its own tag into a register: without it the compiler may fold
// identical functions into one, and callgrind would see one name.

inline void tag(unsigned long v) noexcept {
    asm volatile("" : : "r"(v));
}

[[gnu::noinline]] void count_queue_spsc(qspsc::producer& tx, const std::byte* src, std::size_t n) {
    tag(1);
    for (std::size_t i = 0; i < n; ++i)
        bench::do_not_optimize(produce_64(tx, src));
}
[[gnu::noinline]] void count_chan_spsc_membarrier(cspsc::sender& tx, const std::byte* src,
                                                  std::size_t n) {
    tag(2);
    for (std::size_t i = 0; i < n; ++i)
        bench::do_not_optimize(send_64(tx, src));
}
[[gnu::noinline]] void count_chan_spsc_fences(cspsc::sender& tx, const std::byte* src,
                                              std::size_t n) {
    tag(3);
    for (std::size_t i = 0; i < n; ++i)
        bench::do_not_optimize(send_64(tx, src));
}
[[gnu::noinline]] void count_chan_spsc_no_notify(cspsc::sender& tx, const std::byte* src,
                                                 std::size_t n) {
    tag(4);
    for (std::size_t i = 0; i < n; ++i)
        bench::do_not_optimize(send_64_no_notify(tx, src));
}
[[gnu::noinline]] void count_queue_mpsc(qmpsc::producer& tx, const std::byte* src, std::size_t n) {
    tag(5);
    for (std::size_t i = 0; i < n; ++i)
        bench::do_not_optimize(produce_64(tx, src));
}
[[gnu::noinline]] void count_chan_mpsc_membarrier(cmpsc::sender& tx, const std::byte* src,
                                                  std::size_t n) {
    tag(6);
    for (std::size_t i = 0; i < n; ++i)
        bench::do_not_optimize(send_64(tx, src));
}
[[gnu::noinline]] void count_chan_mpsc_fences(cmpsc::sender& tx, const std::byte* src,
                                              std::size_t n) {
    tag(7);
    for (std::size_t i = 0; i < n; ++i)
        bench::do_not_optimize(send_64(tx, src));
}

// Fills the ring once (page walk, caches), empties it, then counts.
template <class Tx, class Rx, class Count>
void warm_and_count(Tx& tx, Rx& rx, const std::byte* src, std::size_t n, Count count) {
    for (std::size_t i = 0; i < n; ++i)
        if (!send_64_no_notify(tx, src)) std::abort();  // sized to fit: a bug
    empty_ring(rx);
    count(tx, src, n);
    empty_ring(rx);
}

template <class Producer, class Rx, class Count>
void warm_and_count_queue(Producer& tx, Rx& rx, const std::byte* src, std::size_t n, Count count) {
    for (std::size_t i = 0; i < n; ++i)
        if (!produce_64(tx, src)) std::abort();
    empty_ring(rx);
    count(tx, src, n);
    empty_ring(rx);
}

int count_ops(const config& cfg, std::size_t n) {
    if (n * (micro_len + 8) > cfg.ring_bytes) {
        std::fprintf(stderr, "--count-ops: at most %zu ops fit the ring\n",
                     cfg.ring_bytes / (micro_len + 8));
        return 2;
    }
    const auto src = bench::random_bytes(micro_len, cfg.seed);
    {
        auto ends = qspsc::make(cfg.ring_bytes);
        warm_and_count_queue(ends.first, ends.second, src.data(), n, count_queue_spsc);
    }
    {
        auto ends = cspsc::make(cfg.ring_bytes, fence_mode::membarrier);
        warm_and_count(ends.first, ends.second, src.data(), n, count_chan_spsc_membarrier);
        warm_and_count(ends.first, ends.second, src.data(), n, count_chan_spsc_no_notify);
    }
    {
        auto ends = cspsc::make(cfg.ring_bytes, fence_mode::fences);
        warm_and_count(ends.first, ends.second, src.data(), n, count_chan_spsc_fences);
    }
    {
        auto ends = qmpsc::make(cfg.ring_bytes);
        warm_and_count_queue(ends.first, ends.second, src.data(), n, count_queue_mpsc);
    }
    {
        auto ends = cmpsc::make(cfg.ring_bytes, fence_mode::membarrier);
        warm_and_count(ends.first, ends.second, src.data(), n, count_chan_mpsc_membarrier);
    }
    {
        auto ends = cmpsc::make(cfg.ring_bytes, fence_mode::fences);
        warm_and_count(ends.first, ends.second, src.data(), n, count_chan_mpsc_fences);
    }
    std::printf("count-ops: %zu operations per function; process fence mode: %s%s\n", n,
                mode_name(logbuf::channel::details::process_fence_mode()),
                logbuf::channel::details::process_fence_mode() == fence_mode::membarrier
                    ? ""
                    : " (membarrier unavailable: the *_membarrier loops ran in fences mode)");
    std::printf("  count_queue_spsc              queue spsc try_claim(64) + copy + commit\n");
    std::printf(
        "  count_chan_spsc_membarrier    channel spsc try_send(64) + copy + commit + "
        "notify [membarrier]\n");
    std::printf("  count_chan_spsc_fences        ... [fences]\n");
    std::printf("  count_chan_spsc_no_notify     channel spsc try_send(64) + copy + commit\n");
    std::printf("  count_queue_mpsc              queue mpsc try_claim(64) + copy + commit\n");
    std::printf(
        "  count_chan_mpsc_membarrier    channel mpsc try_send(64) + copy + commit + "
        "notify [membarrier]\n");
    std::printf("  count_chan_mpsc_fences        ... [fences]\n");
    return 0;
}

// ---------------------------------------------------------------------------
// Section 1: sender cost

constexpr const char* op_q_spsc = "queue   spsc try_claim+copy 64+commit";
constexpr const char* op_c_spsc_mb = "channel spsc try_send+copy+commit+notify [mb]";
constexpr const char* op_c_spsc_f = "channel spsc try_send+copy+commit+notify [f]";
constexpr const char* op_c_spsc_nn = "channel spsc try_send+copy+commit (no notify)";
constexpr const char* op_q_mpsc = "queue   mpsc try_claim+copy 64+commit";
constexpr const char* op_c_mpsc_mb = "channel mpsc try_send+copy+commit+notify [mb]";
constexpr const char* op_c_mpsc_f = "channel mpsc try_send+copy+commit+notify [f]";

void micro_section(const config& cfg, bench::results& res) {
    bench::pin_this_thread(cfg.cpus.producer);
    const auto src = bench::random_bytes(micro_len, cfg.seed);
    // Named references, not structured bindings: lambdas capture them below
    // (which Clang 14 does not allow for bindings).
    auto q_spsc = qspsc::make(cfg.ring_bytes);
    auto q_mpsc = qmpsc::make(cfg.ring_bytes);
    auto c_spsc_mb = cspsc::make(cfg.ring_bytes, fence_mode::membarrier);
    auto c_spsc_f = cspsc::make(cfg.ring_bytes, fence_mode::fences);
    auto c_mpsc_mb = cmpsc::make(cfg.ring_bytes, fence_mode::membarrier);
    auto c_mpsc_f = cmpsc::make(cfg.ring_bytes, fence_mode::fences);

    const std::size_t n = cfg.batch;
    std::uint64_t failures = 0;
    const auto check = [&](bool ok) { failures += !ok; };

    // The counter moves in steps of granularity ticks (21 on this VM), so a
    // single timing cannot tell 5 ticks apart. A third view times groups of
    // `group` operations: the p50 of a group, over `group`, is a per-op median
    // with the step divided by `group`.
    struct micro {
        const char* name;
        bench::op_cost cost;
        bench::histogram grouped;  // ticks per group of `group` ops, timer overhead included
        std::function<void(bench::op_cost&, bench::histogram&)> run;  // `batches` batches
    };
    std::vector<micro> ops;
    const auto add = [&](const char* name, auto& ends, auto op) {
        auto& tx = ends.first;
        auto& rx = ends.second;
        ops.push_back(
            {name,
             {},
             {},
             [&tx, &rx, op, &cfg, n, &src, &check](bench::op_cost& c, bench::histogram& g) {
                 const auto one = [&](std::size_t) { check(op(tx, src.data())); };
                 bench::measure_op_cost(
                     c, cfg.batches, n, [] {}, one, [&] { empty_ring(rx); });
                 for (int b = 0; b < cfg.batches; ++b) {
                     bench::time_each(n / group, g, [&](std::size_t) {
                         for (std::size_t i = 0; i < group; ++i)
                             one(i);
                     });
                     empty_ring(rx);
                 }
             }});
    };
    const auto queue_op = [](auto& tx, const std::byte* s) { return produce_64(tx, s); };
    const auto chan_op = [](auto& tx, const std::byte* s) { return send_64(tx, s); };
    const auto chan_no_notify = [](auto& tx, const std::byte* s) {
        return send_64_no_notify(tx, s);
    };
    add(op_q_spsc, q_spsc, queue_op);
    add(op_c_spsc_mb, c_spsc_mb, chan_op);
    add(op_c_spsc_f, c_spsc_f, chan_op);
    add(op_c_spsc_nn, c_spsc_mb, chan_no_notify);
    add(op_q_mpsc, q_mpsc, queue_op);
    add(op_c_mpsc_mb, c_mpsc_mb, chan_op);
    add(op_c_mpsc_f, c_mpsc_f, chan_op);

    // Warm-up round (pages, caches, branch predictors), discarded.
    for (auto& m : ops) {
        bench::op_cost scratch;
        bench::histogram scratch_groups;
        m.run(scratch, scratch_groups);
    }
    const auto per_op_of_group = [](const bench::histogram& h, double q) {
        return static_cast<double>(h.percentile(q)) / static_cast<double>(group);
    };
    bench::run_alternating(cfg.reps, ops.size(), [&](std::size_t k, int) {
        bench::op_cost rep;
        bench::histogram rep_groups;
        ops[k].run(rep, rep_groups);
        res.add(ops[k].name, "ticks/op", bench::summarize(rep.amortised).median);
        res.add(ops[k].name, "p50", static_cast<double>(rep.per_op.percentile(0.50)));
        res.add(ops[k].name, "group p50", per_op_of_group(rep_groups, 0.50));
        ops[k].grouped.merge(rep_groups);
        ops[k].cost.amortised.insert(ops[k].cost.amortised.end(), rep.amortised.begin(),
                                     rep.amortised.end());
        ops[k].cost.per_op.merge(rep.per_op);
    });
    bench::unpin_this_thread();

    const bench::tsc_info& t = bench::tsc();
    std::printf(
        "\n1. sender cost, one thread, nothing parked, 64-byte records; [mb] = "
        "fence_mode::membarrier, [f] = fences\n"
        "amortised over batches of %zu (%d reps x %d batches), per-op histogram of %d x %d x "
        "%zu single timings;\nticks at %.3f GHz",
        n, cfg.reps, cfg.batches, cfg.reps, cfg.batches, n, t.ticks_per_ns);
    if (t.core_ghz > 0) std::printf(" (1 tick ~ %.2f core cycles)", t.core_ghz / t.ticks_per_ns);
    std::printf("\n");
    std::vector<bench::op_cost_row> rows;
    for (const auto& m : ops)
        rows.push_back({m.name, &m.cost});
    bench::print_op_costs(std::cout, rows);
    std::printf(
        "per op, from groups of %zu (one timer around %zu ops; p50 and p99 of the group "
        "over %zu: timer overhead / %zu = %.1f ticks included):\n",
        group, group, group, group, t.overhead_median / static_cast<double>(group));
    std::printf("%-46s %-16s %-16s %s\n", "", "p50 ticks/op", "p99 ticks/op",
                "per-rep p50 median [min-max]");
    for (const auto& m : ops)
        std::printf("%-46s %-16.2f %-16.2f %s\n", m.name, per_op_of_group(m.grouped, 0.50),
                    per_op_of_group(m.grouped, 0.99),
                    bench::format_stats(res.summary(m.name, "group p50"), 2).c_str());
    std::printf("failed operations (ring unexpectedly full): %" PRIu64 "%s\n", failures,
                failures ? "  <-- BROKEN" : "");

    std::printf(
        "channel - queue, paired per repetition, ticks: median [min-max] (the timer overhead "
        "cancels)\n");
    std::printf("  %-50s %-24s %-24s %s\n", "", "amortised", "p50, groups of 16",
                "p50, single timings");
    const auto diff_line = [&](const char* what, const char* a, const char* b) {
        const bench::stats am = paired_difference(res, a, b, "ticks/op");
        const bench::stats g = paired_difference(res, a, b, "group p50");
        const bench::stats p = paired_difference(res, a, b, "p50");
        char cell[64], gcell[64];
        std::snprintf(cell, sizeof cell, "%+.2f [%+.2f..%+.2f]", am.median, am.min, am.max);
        std::snprintf(gcell, sizeof gcell, "%+.2f [%+.2f..%+.2f]", g.median, g.min, g.max);
        std::printf("  %-50s %-24s %-24s %+.0f [%+.0f..%+.0f]\n", what, cell, gcell, p.median,
                    p.min, p.max);
    };
    diff_line("spsc: channel [mb] - queue", op_c_spsc_mb, op_q_spsc);
    diff_line("spsc: channel [f] - queue", op_c_spsc_f, op_q_spsc);
    diff_line("spsc: channel, no notify - queue", op_c_spsc_nn, op_q_spsc);
    diff_line("spsc: notify() [mb] (channel [mb] - no notify)", op_c_spsc_mb, op_c_spsc_nn);
    diff_line("spsc: notify() [f]  (channel [f] - no notify)", op_c_spsc_f, op_c_spsc_nn);
    diff_line("mpsc: channel [mb] - queue", op_c_mpsc_mb, op_q_mpsc);
    diff_line("mpsc: channel [f] - queue", op_c_mpsc_f, op_q_mpsc);
    std::printf("ratios (amortised ticks/op, paired per repetition): median [min-max]\n");
    const auto ratio_line = [&](const char* what, const char* a, const char* b) {
        bench::print_ratio(std::cout, res, what, a, b, "ticks/op");
    };
    ratio_line("spsc: channel [mb] / queue", op_c_spsc_mb, op_q_spsc);
    ratio_line("spsc: channel [f] / queue", op_c_spsc_f, op_q_spsc);
    ratio_line("mpsc: channel [mb] / queue", op_c_mpsc_mb, op_q_mpsc);
    ratio_line("mpsc: channel [f] / queue", op_c_mpsc_f, op_q_mpsc);
}

// ---------------------------------------------------------------------------
// Section 2: wake-up latency

#if defined(__linux__)
// The scheduler state of one thread of this process ('R' running or
// runnable, 'S' asleep...), from /proc/self/task/<tid>/stat, kept open.
class thread_state {
  public:
    explicit thread_state(long tid) {
        const std::string path = "/proc/self/task/" + std::to_string(tid) + "/stat";
        fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    }
    thread_state(const thread_state&) = delete;
    thread_state& operator=(const thread_state&) = delete;
    ~thread_state() {
        if (fd_ >= 0) ::close(fd_);
    }

    [[nodiscard]] char read() const noexcept {
        if (fd_ < 0) return '?';
        char buf[512];
        const ssize_t got = ::pread(fd_, buf, sizeof buf - 1, 0);  // offset 0: a fresh snapshot
        if (got <= 0) return '?';
        buf[got] = '\0';
        const char* paren = std::strrchr(buf, ')');  // the name may hold spaces and parentheses
        return paren != nullptr && paren[1] == ' ' ? paren[2] : '?';
    }

  private:
    int fd_ = -1;
};

long this_thread_id() noexcept {
    return ::syscall(SYS_gettid);
}
#else
class thread_state {
  public:
    explicit thread_state(long) {}
    [[nodiscard]] char read() const noexcept { return '?'; }
};
long this_thread_id() noexcept {
    return 0;
}
#endif

std::int64_t steady_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               clock_type::now().time_since_epoch())
        .count();
}

// What the sender writes into each wake-up record.
struct wake_stamp {
    std::uint64_t tsc;    // counter just before commit + notify
    std::int64_t steady;  // steady_clock, ns, just before that
    std::uint64_t trial;  // index into the sample arrays
};

struct wake_run {
    std::vector<double> delay_ticks;   // notify -> recv() returned, counter ticks
    std::vector<double> delay_ns;      // the same by steady_clock
    std::vector<double> notify_ticks;  // the sender's commit + notify() (it makes the futex call)
    std::uint64_t unconfirmed = 0;     // trials whose receiver was not seen asleep in 100 ms
    std::uint64_t parks = 0;           // the receiver's parks in all
};

// One run of `trials` wake-ups through a fresh SPSC channel: the receiver on
// cfg.cpus.consumer blocks in recv(); the sender on cfg.cpus.producer waits
// until /proc shows it asleep, then `dwell` more, then sends.
wake_run run_wake(const config& cfg, fence_mode mode, std::chrono::nanoseconds dwell, int trials) {
    auto ends = cspsc::make(4096, mode);
    auto& rx = ends.second;
    rx.set_park_timeout(std::chrono::seconds(10));  // only a notify() ends a park
    const auto count = static_cast<std::size_t>(trials);
    wake_run out;
    out.delay_ticks.assign(count, 0.0);
    out.delay_ns.assign(count, 0.0);
    out.notify_ticks.assign(count, 0.0);
    std::atomic<long> receiver_tid{0};
    std::atomic<std::uint64_t> received{0};
    bench::run_pinned_pair(
        cfg.cpus,
        [&] {
            auto tx = std::move(ends.first);  // dropped at the end: the receiver ends
            long tid;
            // Acquire pairs with the receiver's release store: the id is the
            // receiver's (an integer; nothing else rides on it).
            while ((tid = receiver_tid.load(std::memory_order_acquire)) == 0)
                bench::cpu_relax();
            const thread_state receiver_state(tid);
            for (std::uint64_t t = 0; t < count; ++t) {
                // Acquire pairs with the receiver's release increment: trial
                // t-1 is done and its sample written before we go on.
                while (received.load(std::memory_order_acquire) < t)
                    bench::cpu_relax();
                const auto give_up = clock_type::now() + std::chrono::milliseconds(100);
                while (receiver_state.read() != 'S' && clock_type::now() < give_up) {
                }
                if (dwell.count() > 0) {
                    const auto until = clock_type::now() + dwell;
                    while (clock_type::now() < until) {  // busy: a hot sender stays on its core
                    }
                }
                out.unconfirmed += receiver_state.read() != 'S';
                auto claim = tx.try_send(sizeof(wake_stamp));
                if (!claim) std::abort();  // the receiver has taken every earlier record
                wake_stamp s{};
                s.trial = t;
                s.steady = steady_ns();
                s.tsc = bench::start();
                std::memcpy(claim.data(), &s, sizeof s);
                claim.commit();
                tx.notify();
                out.notify_ticks[t] = static_cast<double>(bench::stop() - s.tsc);
            }
            // Acquire pairs with the receiver's release increment (as above).
            while (received.load(std::memory_order_acquire) < count)
                bench::cpu_relax();
        },
        [&] {
            // Release pairs with the sender's acquire load.
            receiver_tid.store(this_thread_id(), std::memory_order_release);
            while (auto r = rx.recv()) {
                const bench::ticks now = bench::stop();
                const std::int64_t now_ns = steady_ns();
                wake_stamp s;
                std::memcpy(&s, r.data(), sizeof s);
                // Assumes a counter synchronised across cores (constant_tsc,
                // tsc_reliable); the steady_clock column cross-checks it. A
                // negative difference would say otherwise: clamped, it shows as 0.
                out.delay_ticks[s.trial] = now > s.tsc ? static_cast<double>(now - s.tsc) : 0.0;
                out.delay_ns[s.trial] = static_cast<double>(now_ns - s.steady);
                r.release();
                // Release pairs with the sender's acquire loads: this trial's
                // samples are written before it sends the next.
                received.fetch_add(1, std::memory_order_release);
            }
            out.parks = rx.parking().parks;
        });
    return out;
}

struct wake_contender {
    std::string name;
    fence_mode mode;
    std::chrono::nanoseconds dwell;
    bench::histogram delay;     // ticks
    bench::histogram delay_ns;  // steady_clock ns
    bench::histogram notify;    // ticks
    std::uint64_t unconfirmed = 0, parks = 0, trials = 0;
};

void wake_section(const config& cfg, bench::results& res) {
    const auto dwell = std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::duration<double, std::milli>(cfg.wake_dwell_ms));
    char dwell_name[64];
    std::snprintf(dwell_name, sizeof dwell_name, "asleep >= %.1f ms", cfg.wake_dwell_ms);
    std::vector<wake_contender> cs;
    for (fence_mode m : {fence_mode::membarrier, fence_mode::fences}) {
        cs.push_back({std::string("[") + mode_name(m) + "] notified once asleep",
                      m,
                      std::chrono::nanoseconds(0),
                      {},
                      {},
                      {}});
        cs.push_back({std::string("[") + mode_name(m) + "] " + dwell_name, m, dwell, {}, {}, {}});
    }
    run_wake(cfg, fence_mode::membarrier, std::chrono::nanoseconds(0), 5);  // warm-up
    const bench::tsc_info& t = bench::tsc();
    bench::run_alternating(cfg.reps, cs.size(), [&](std::size_t k, int) {
        wake_contender& c = cs[k];
        const wake_run r = run_wake(cfg, c.mode, c.dwell, cfg.wake_trials);
        bench::histogram rep;
        for (std::size_t i = 0; i < r.delay_ticks.size(); ++i) {
            rep.record(static_cast<std::uint64_t>(r.delay_ticks[i]));
            c.delay_ns.record(static_cast<std::uint64_t>(std::max(0.0, r.delay_ns[i])));
            c.notify.record(static_cast<std::uint64_t>(r.notify_ticks[i]));
        }
        c.delay.merge(rep);
        c.unconfirmed += r.unconfirmed;
        c.parks += r.parks;
        c.trials += r.delay_ticks.size();
        res.add(c.name, "wake p50 us", t.to_ns(static_cast<double>(rep.percentile(0.5))) / 1e3);
        res.add(c.name, "wake p99 us", t.to_ns(static_cast<double>(rep.percentile(0.99))) / 1e3);
    });

    std::printf(
        "\n2. wake-up latency: sender commit + notify() -> the receiver's recv() returns; the "
        "receiver is\nasleep in futex_wait (state 'S' in /proc; park timeout 10 s), SPSC channel, "
        "sender CPU %d, receiver CPU %d;\n%d reps x %d trials per contender, contenders "
        "alternating. us; counter ticks converted at %.3f GHz\n",
        cfg.cpus.producer, cfg.cpus.consumer, cfg.reps, cfg.wake_trials, t.ticks_per_ns);
    std::printf("%-36s %-22s %-22s %-8s %-8s %-8s %-17s %-17s %s\n", "", "p50/rep median[min-max]",
                "p99/rep median[min-max]", "p50", "p99", "max", "steady p50 / p99",
                "sender notify()", "parks/trial, not seen asleep");
    for (const auto& c : cs) {
        const auto us = [&](std::uint64_t ticks_value) {
            return t.to_ns(static_cast<double>(ticks_value)) / 1e3;
        };
        char p50cell[48], p99cell[48], steady[48], notify[48];
        std::snprintf(p50cell, sizeof p50cell, "%s",
                      bench::format_stats(res.summary(c.name, "wake p50 us"), 1).c_str());
        std::snprintf(p99cell, sizeof p99cell, "%s",
                      bench::format_stats(res.summary(c.name, "wake p99 us"), 1).c_str());
        std::snprintf(steady, sizeof steady, "%.1f / %.1f",
                      static_cast<double>(c.delay_ns.percentile(0.5)) / 1e3,
                      static_cast<double>(c.delay_ns.percentile(0.99)) / 1e3);
        std::snprintf(notify, sizeof notify, "%.1f / %.1f", us(c.notify.percentile(0.5)),
                      us(c.notify.percentile(0.99)));
        std::printf("%-36s %-22s %-22s %-8.1f %-8.1f %-8.1f %-17s %-17s %.2f, %" PRIu64 "\n",
                    c.name.c_str(), p50cell, p99cell, us(c.delay.percentile(0.5)),
                    us(c.delay.percentile(0.99)), us(c.delay.max()), steady, notify,
                    static_cast<double>(c.parks) / static_cast<double>(c.trials), c.unconfirmed);
    }
    std::printf(
        "(p50/p99/max: all %d trials pooled; steady: the same delay by steady_clock; sender "
        "notify(): commit + notify()\n with the receiver asleep, p50 / p99, as the sender sees "
        "it - the futex wake system call)\n",
        cfg.reps * cfg.wake_trials);
    std::printf("ratios (per-rep p50, paired): median [min-max]\n");
    // cs holds the two [membarrier] rows, then their two [fences] twins.
    for (std::size_t k = 0; k < 2; ++k) {
        const bench::stats s = res.ratio(cs[k + 2].name, cs[k].name, "wake p50 us");
        std::printf("  %-50s %7.3f [%.3f-%.3f]\n", (cs[k + 2].name + " / [membarrier]").c_str(),
                    s.median, s.min, s.max);
    }
}

// ---------------------------------------------------------------------------
// Section 3: throughput

using bench::consumed;
using bench::run_length;
using bench::run_result;

// A channel run: the sender on cfg.cpus.producer sends whole laps of the
// sequence for cfg.seconds (send + copy + commit + notify per record) and
// then drops its handle; the receiver on cfg.cpus.consumer recv()s until
// disconnected. `drain`: after each recv(), also drain() whatever else is
// committed. Timing as bench::run_throughput_pair: from the sender's start
// to the receiver's end, steady_clock.
template <class Make>
run_result run_channel(Make make, fence_mode mode, bool drain, const config& cfg, const input& in,
                       std::uint64_t& parks) {
    auto ends = make(cfg.ring_bytes, mode);
    auto& rx = ends.second;
    clock_type::time_point t0, t1;
    std::uint64_t produced = 0;
    consumed got;
    bench::run_pinned_pair(
        cfg.cpus,
        [&] {
            auto tx = std::move(ends.first);  // dropped on return: the receiver ends
            t0 = clock_type::now();
            const auto deadline = t0 + std::chrono::duration_cast<clock_type::duration>(
                                           std::chrono::duration<double>(cfg.seconds));
            produced = bench::produce_laps(in.sizes.count(), deadline, [&](std::uint64_t i) {
                const std::uint32_t len = in.sizes.size(i);
                auto claim = tx.send(len);
                if (!claim) std::abort();  // the receiver is alive: a bug
                in.write_record(i, claim.data(), len);
                claim.commit();
                tx.notify();
            });
        },
        [&] {
            std::uint64_t next = 0, bad = 0;
            const auto check = [&](std::span<const std::byte> r) {
                bad += !in.record_ok(next, r.data(), r.size());
                ++next;
            };
            while (auto r = rx.recv()) {
                check(r.bytes());
                if (drain) {
                    r.release();
                    rx.drain(check);
                }
            }
            got = {next, bad};
            t1 = clock_type::now();
        });
    parks = rx.parking().parks;
    return {std::chrono::duration<double>(t1 - t0).count(), got.records,
            in.sizes.bytes_in(got.records), got.errors + (got.records != produced)};
}

// The raw SPSC queue with a consumer that spins on drain() (queue_bench's
// logbuf contender): the channel's ceiling.
run_result run_queue_spsc(const config& cfg, const input& in) {
    auto ends = qspsc::make(cfg.ring_bytes);
    auto& tx = ends.first;
    auto& rx = ends.second;
    return bench::run_throughput_pair(
        cfg.cpus, cfg.seconds, in.sizes,
        [&](std::uint64_t i) {
            const std::uint32_t len = in.sizes.size(i);
            auto claim = tx.try_claim(len);
            while (!claim) {
                bench::cpu_relax();
                claim = tx.try_claim(len);
            }
            in.write_record(i, claim.data(), len);
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
                bench::cpu_relax();
            }
            return consumed{next, bad};
        });
}

constexpr const char* row_c_spsc = "channel spsc, recv()";
constexpr const char* row_c_spsc_d = "channel spsc, recv()+drain()";
constexpr const char* row_c_spsc_f = "channel spsc [f], recv()+drain()";
constexpr const char* row_c_mpsc = "channel mpsc, recv()";
constexpr const char* row_c_mpsc_d = "channel mpsc, recv()+drain()";
constexpr const char* row_q_spsc = "queue spsc, spinning drain()";
constexpr const char* row_boost_ring = "boost spsc_queue<char,capacity<2M>>";
constexpr const char* row_boost_queue = "boost queue<T*,capacity<4096>>+heap";

struct throughput_contender {
    const char* name;
    std::function<run_result(const config&, std::uint64_t&)> run;  // parks out
};

void throughput_section(const config& cfg, const input& in, bench::results& res) {
    const auto spsc_make = [](std::size_t c, fence_mode m) { return cspsc::make(c, m); };
    const auto mpsc_make = [](std::size_t c, fence_mode m) { return cmpsc::make(c, m); };
    const std::vector<throughput_contender> contenders = {
        {row_c_spsc,
         [&](const config& c, std::uint64_t& p) {
             return run_channel(spsc_make, fence_mode::membarrier, false, c, in, p);
         }},
        {row_c_spsc_d,
         [&](const config& c, std::uint64_t& p) {
             return run_channel(spsc_make, fence_mode::membarrier, true, c, in, p);
         }},
        {row_c_spsc_f,
         [&](const config& c, std::uint64_t& p) {
             return run_channel(spsc_make, fence_mode::fences, true, c, in, p);
         }},
        {row_c_mpsc,
         [&](const config& c, std::uint64_t& p) {
             return run_channel(mpsc_make, fence_mode::membarrier, false, c, in, p);
         }},
        {row_c_mpsc_d,
         [&](const config& c, std::uint64_t& p) {
             return run_channel(mpsc_make, fence_mode::membarrier, true, c, in, p);
         }},
        {row_q_spsc,
         [&](const config& c, std::uint64_t& p) {
             p = 0;
             return run_queue_spsc(c, in);
         }},
        {row_boost_ring,
         [&](const config& c, std::uint64_t& p) {
             p = 0;
             return bench::run_boost_byte_ring<bench::boost_byte_ring>(peer_setup_of(c), in);
         }},
        {row_boost_queue,
         [&](const config& c, std::uint64_t& p) {
             p = 0;
             return bench::run_boost_pointer_queue<bench::boost_pointer_queue>(peer_setup_of(c),
                                                                               in);
         }},
    };
    config warm = cfg;  // a short warm-up run each (page tables, caches, malloc), discarded
    warm.seconds = std::min(cfg.seconds, 0.05);
    for (const auto& c : contenders) {
        std::uint64_t parks = 0;
        c.run(warm, parks);
    }

    std::uint64_t errors = 0;
    std::vector<double> round_trips;
    bench::run_alternating(cfg.reps, contenders.size(), [&](std::size_t k, int) {
        // Which state the two cores are in for this run (harness/coupling.hpp).
        const double rtt = bench::line_round_trip_ns(cfg.cpus);
        round_trips.push_back(rtt);
        std::uint64_t parks = 0;
        const run_result r = contenders[k].run(cfg, parks);
        bench::add_throughput(res, contenders[k].name, r);
        res.add(contenders[k].name, "parks", static_cast<double>(parks));
        res.add(contenders[k].name, "rtt", rtt);
        errors += r.errors;
    });

    std::printf("\n3. throughput: random %u-%u-byte records (mean %.1f B, seed %" PRIu64
                "), %zu KiB ring, sender CPU %d, receiver CPU %d\n",
                cfg.min_len, cfg.max_len, in.sizes.mean(), cfg.seed, cfg.ring_bytes / 1024,
                cfg.cpus.producer, cfg.cpus.consumer);
    std::printf(
        "channel: send + copy + commit + notify per record, receiver parks when idle ([f] = "
        "fences mode, others membarrier);\n%d repetitions of %.2f s per contender, contenders "
        "alternating\n",
        cfg.reps, cfg.seconds);
    auto columns = bench::throughput_columns();
    columns.push_back({"parks", "parks/run", 0});
    columns.push_back({"rtt", "line RTT ns", 0});
    bench::print_table(std::cout, res,
                       {row_c_spsc, row_c_spsc_d, row_c_spsc_f, row_c_mpsc, row_c_mpsc_d,
                        row_q_spsc, row_boost_ring, row_boost_queue},
                       columns, 38);
    const bench::stats rtt = bench::summarize(round_trips);
    std::printf(
        "cache-line round trip between the two CPUs before each run: median %.0f ns "
        "[%.0f-%.0f]\n",
        rtt.median, rtt.min, rtt.max);
    std::printf("receiver check failures: %" PRIu64 "%s\n", errors, errors ? "  <-- BROKEN" : "");
    std::printf("ratios (GB/s, paired per repetition): median [min-max]\n");
    const auto ratio_line = [&](const char* what, const char* a, const char* b) {
        bench::print_ratio(std::cout, res, what, a, b, "GB/s");
    };
    ratio_line("channel spsc recv() / boost byte ring", row_c_spsc, row_boost_ring);
    ratio_line("channel spsc recv()+drain() / boost byte ring", row_c_spsc_d, row_boost_ring);
    ratio_line("channel mpsc recv() / boost queue<T*>", row_c_mpsc, row_boost_queue);
    ratio_line("channel mpsc recv()+drain() / boost queue<T*>", row_c_mpsc_d, row_boost_queue);
    ratio_line("channel spsc recv()+drain() / queue spsc", row_c_spsc_d, row_q_spsc);
    ratio_line("channel spsc [f] / [membarrier] (recv()+drain())", row_c_spsc_f, row_c_spsc_d);
}

// ---------------------------------------------------------------------------
// The report

void targets_section(const bench::results& res) {
    std::printf("\ntargets (judged on the median of paired differences; a report, not a test)\n");
    const auto target = [&](const char* what, const char* a, const char* b, const char* metric) {
        bench::print_target(std::cout, what, paired_difference(res, a, b, metric), 5.0,
                            bench::at_most, "t");
    };
    target("spsc channel [mb] - queue, p50 per op (groups of 16) <= 5t", op_c_spsc_mb, op_q_spsc,
           "group p50");
    target("mpsc channel [mb] - queue, p50 per op (groups of 16) <= 5t", op_c_mpsc_mb, op_q_mpsc,
           "group p50");
    target("  (spsc, amortised, same target)", op_c_spsc_mb, op_q_spsc, "ticks/op");
    target("  (mpsc, amortised, same target)", op_c_mpsc_mb, op_q_mpsc, "ticks/op");
    target("  (spsc, p50 of single timings, counter steps)", op_c_spsc_mb, op_q_spsc, "p50");
    target("  (mpsc, p50 of single timings, counter steps)", op_c_mpsc_mb, op_q_mpsc, "p50");
}

void usage() {
    std::puts(
        "channel_bench [options]\n"
        "  --reps=N            repetitions, contenders alternating in each (7)\n"
        "  --seconds=S         target length of one throughput run (0.25)\n"
        "  --batch=N           operations per micro batch (10000)\n"
        "  --batches=N         micro batches per contender per repetition (10)\n"
        "  --wake-trials=N     wake-ups per contender per repetition (50)\n"
        "  --wake-dwell-ms=MS  how long the receiver sleeps in the 'asleep >=' rows (2)\n"
        "  --ring=BYTES        ring capacity (2097152)\n"
        "  --seed=N            record-size sequence seed (1)\n"
        "  --producer-cpu=N --consumer-cpu=N   (first two allowed CPUs)\n"
        "  --only=micro|wake|throughput\n"
        "  --realtime          two-thread runs at SCHED_FIFO 1 once pinned (root; a busy machine)\n"
        "  --quick             --reps=3 --seconds=0.1 --batches=4 --wake-trials=20\n"
        "  --count-ops=N       run each sender hot path N times single-threaded (for callgrind)");
}

int run(int argc, char** argv) {
    bench::options opt(argc, argv);
    if (opt.has("help")) {
        usage();
        return 0;
    }
    config cfg;
    const bool quick = opt.has("quick");
    bench::realtime_pairs() = opt.has("realtime");
    cfg.reps = static_cast<int>(opt.get_int("reps", quick ? 3 : cfg.reps));
    cfg.seconds = opt.get_double("seconds", quick ? 0.1 : cfg.seconds);
    cfg.batch = static_cast<std::size_t>(opt.get_int("batch", static_cast<long long>(cfg.batch)));
    cfg.batches = static_cast<int>(opt.get_int("batches", quick ? 4 : cfg.batches));
    cfg.wake_trials = static_cast<int>(opt.get_int("wake-trials", quick ? 20 : cfg.wake_trials));
    cfg.wake_dwell_ms = opt.get_double("wake-dwell-ms", cfg.wake_dwell_ms);
    cfg.ring_bytes =
        static_cast<std::size_t>(opt.get_int("ring", static_cast<long long>(cfg.ring_bytes)));
    cfg.seed = static_cast<std::uint64_t>(opt.get_int("seed", static_cast<long long>(cfg.seed)));
    cfg.cpus = bench::default_cpu_pair();
    cfg.cpus.producer = static_cast<int>(opt.get_int("producer-cpu", cfg.cpus.producer));
    cfg.cpus.consumer = static_cast<int>(opt.get_int("consumer-cpu", cfg.cpus.consumer));
    const std::string only = opt.get("only", "");
    const long long count = opt.get_int("count-ops", 0);
    opt.reject_unknown();
    if (cfg.reps < 1 || cfg.batches < 1 || cfg.batch < 1 || cfg.wake_trials < 1 ||
        cfg.wake_dwell_ms < 0 || cfg.batch * (micro_len + 8) > cfg.ring_bytes) {
        std::fprintf(stderr, "channel_bench: bad --reps/--batches/--batch/--wake-*/--ring\n");
        return 2;
    }
    if (count > 0) return count_ops(cfg, static_cast<std::size_t>(count));

    std::printf("logbuf channel_bench\n");
    bench::print_machine(std::cout);
    const fence_mode process_mode = logbuf::channel::details::process_fence_mode();
    std::printf("  fences     process fence mode %s%s\n", mode_name(process_mode),
                process_mode == fence_mode::membarrier
                    ? " (membarrier registered)"
                    : ": membarrier unavailable, the [membarrier] rows run in fences mode");
    bench::results res;
    if (only.empty() || only == "micro") micro_section(cfg, res);
    if (only.empty() || only == "wake") wake_section(cfg, res);
    if (only.empty() || only == "throughput")
        throughput_section(cfg, input(cfg.seed, cfg.min_len, cfg.max_len), res);
    if (only.empty() || only == "micro") targets_section(res);
    std::printf("\nload at end: %.0f%% of CPU time busy in the last 0.5 s; load average %s\n",
                bench::cpu_busy_percent(), bench::load_average().c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return bench::guarded_main("channel_bench", argc, argv, run);
}
