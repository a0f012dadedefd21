// object_bench - logbuf's object channel against boost::lockfree::queue and
// moodycamel::ConcurrentQueue, in one run, side by side.
//
//   object_bench [--reps=7] [--seconds=0.25] [--batch=10000] [--batches=10] [--quick]
//
// Two message types: a 16-byte trivially copyable struct, and a
// std::unique_ptr to one (allocated by the producer, freed by the consumer).
//
// Throughput: 1 or 2 producer threads send (producer, sequence) messages for
// `seconds`; one consumer receives them, checking every producer's order and
// the total. Time runs from the common start to the last message received.
// With 1 producer, producer and consumer are pinned to two CPUs; with 2
// producers the three threads float (a 2-CPU machine cannot pin them apart).
// Contenders, each used the way its documentation recommends for speed, in
// an unbounded flavour (memory grows with the backlog, nodes are reused) and
// a bounded one (16384 values; a full queue makes the producer wait):
//   logbuf              make_unbounded<T>() / make<T>(16384);
//                       try_send / try_recv
//   boost::lockfree     queue<T>(16384 nodes); push / bounded_push, pop; and
//                       queue<T, capacity<16384>> (fixed_sized), bounded_push;
//                       for unique_ptr it carries the raw pointer (it only
//                       takes trivially copyable types)
//   moodycamel          ConcurrentQueue<T>(16384, producers, 0), a
//                       ProducerToken per producer, a ConsumerToken;
//                       enqueue / try_dequeue. Unbounded only: its
//                       try_enqueue is no global bound - a producer keeps
//                       the preallocated blocks it has used, and with two
//                       producers the other one's try_enqueue then fails for
//                       ever, even on an empty queue (seen here).
// Ratios compare unbounded with unbounded and bounded with bounded.
// A producer retries a refused push, and the consumer an empty pop, with a
// short spin and then sched_yield: on a machine with more runnable threads
// than CPUs a pure spin would burn whole timeslices while the other side is
// descheduled, and measure the scheduler instead of the queue. Every
// contender pops one message at a time.
//
// Per-message cost (one thread, nothing contended): a batch of sends into an
// empty queue, then a batch of receives out of a full one, amortised over the
// batch and timed one by one. Values are made before and destroyed after the
// timed loop, so only the queue is timed.
//
// Contenders alternate within every repetition; the report gives medians,
// min-max spreads and ratios paired per repetition. It reports, never fails.

#include <logbuf/channel/object.hpp>

#include <harness/harness.hpp>

#include <concurrentqueue/concurrentqueue.h>
#include <boost/lockfree/queue.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

namespace object = logbuf::channel::object;
using clock_type = std::chrono::steady_clock;

// ---------------------------------------------------------------------------
// Messages

struct msg16 {
    std::uint64_t producer;
    std::uint64_t sequence;
};
static_assert(sizeof(msg16) == 16 && std::is_trivially_copyable_v<msg16>);
using boxed = std::unique_ptr<msg16>;

template <class T>
struct message;
template <>
struct message<msg16> {
    static constexpr const char* name = "16-byte struct";
    static msg16 make(std::uint64_t p, std::uint64_t s) noexcept { return {p, s}; }
    static const msg16& view(const msg16& m) noexcept { return m; }
};
template <>
struct message<boxed> {
    static constexpr const char* name = "unique_ptr<16-byte struct>";
    static boxed make(std::uint64_t p, std::uint64_t s) {
        return std::make_unique<msg16>(msg16{p, s});
    }
    static const msg16& view(const boxed& b) noexcept { return *b; }
};

// ---------------------------------------------------------------------------
// Contenders. Each: a per-thread producer handle, push(handle, T&&) that
// takes the value only when it returns true, and pop(f) that calls f(T&)
// with one message and returns true, or returns false when there is none.

constexpr std::size_t queue_capacity = 16384;

template <class T>
class logbuf_unbounded {
  public:
    static constexpr const char* name = "logbuf object (unbounded)";
    using producer = object::sender<T>;
    explicit logbuf_unbounded(int /*producers*/) : channel_(object::make_unbounded<T>()) {}
    producer make_producer() { return channel_.first; }  // a copy per thread
    static bool push(producer& tx, T&& v) noexcept {
        return static_cast<bool>(tx.try_send(std::move(v)));
    }
    template <class F>
    bool pop(F&& f) {
        auto r = channel_.second.try_recv();
        if (!r) return false;
        f(*r);
        return true;
    }
    [[nodiscard]] std::size_t blocks_allocated() const noexcept {
        return channel_.second.block_usage().allocated;
    }

  protected:
    explicit logbuf_unbounded(std::size_t bound) : channel_(object::make<T>(bound)) {}

  private:
    std::pair<object::sender<T>, object::receiver<T>> channel_;
};

template <class T>
class logbuf_bounded : public logbuf_unbounded<T> {
  public:
    static constexpr const char* name = "logbuf object (bounded 16384)";
    explicit logbuf_bounded(int /*producers*/) : logbuf_unbounded<T>(queue_capacity) {}
};

// boost::lockfree::queue only holds trivially copyable, trivially
// destructible types: a unique_ptr travels as its raw pointer. Unbounded:
// push() allocates nodes when its free list is empty; bounded: bounded_push()
// fails instead, on 16384 nodes preallocated at run time or (Fixed) on a
// compile-time capacity<16384> (fixed_sized: an array of nodes, 16-bit
// indices instead of pointers).
enum class boost_kind { unbounded, bounded, fixed };

template <class Stored, boost_kind Kind>
using boost_queue_type =
    std::conditional_t<Kind == boost_kind::fixed,
                       boost::lockfree::queue<Stored, boost::lockfree::capacity<16384>>,
                       boost::lockfree::queue<Stored>>;

template <class T, boost_kind Kind>
class boost_queue {
    using stored = std::conditional_t<std::is_same_v<T, boxed>, msg16*, T>;
    static constexpr bool Bounded = Kind != boost_kind::unbounded;

  public:
    static constexpr const char* name =
        Kind == boost_kind::fixed     ? "boost::lockfree::queue (capacity<16384>)"
        : Kind == boost_kind::bounded ? "boost::lockfree::queue (bounded 16384)"
                                      : "boost::lockfree::queue";
    struct producer {};
    explicit boost_queue(int /*producers*/) : q_(make_queue()) {}
    producer make_producer() { return {}; }
    bool push(producer&, T&& v) {
        if constexpr (std::is_same_v<T, boxed>) {
            if (!push_stored(v.get())) return false;
            (void)v.release();
            return true;
        } else {
            return push_stored(v);
        }
    }
    template <class F>
    bool pop(F&& f) {
        stored s;
        if (!q_->pop(s)) return false;
        if constexpr (std::is_same_v<T, boxed>) {
            boxed owned(s);
            f(owned);
        } else {
            f(s);
        }
        return true;
    }
    [[nodiscard]] std::size_t blocks_allocated() const noexcept { return 0; }

  private:
    bool push_stored(const stored& s) { return Bounded ? q_->bounded_push(s) : q_->push(s); }

    static std::unique_ptr<boost_queue_type<stored, Kind>> make_queue() {
        if constexpr (Kind == boost_kind::fixed)
            return std::make_unique<boost_queue_type<stored, Kind>>();
        else
            return std::make_unique<boost_queue_type<stored, Kind>>(queue_capacity);
    }

    std::unique_ptr<boost_queue_type<stored, Kind>> q_;
};
template <class T>
using boost_unbounded = boost_queue<T, boost_kind::unbounded>;
template <class T>
using boost_bounded = boost_queue<T, boost_kind::bounded>;
template <class T>
using boost_fixed = boost_queue<T, boost_kind::fixed>;

// enqueue() allocates blocks when the preallocated ones run out.
template <class T>
class moodycamel_queue {
  public:
    static constexpr const char* name = "moodycamel::ConcurrentQueue";
    using producer = moodycamel::ProducerToken;
    // Explicit producers keep the blocks they have used: the queue must be
    // told how many there are, or one producer can take every preallocated
    // block and try_enqueue in the other fails for ever.
    explicit moodycamel_queue(int producers)
        : q_(queue_capacity, static_cast<std::size_t>(producers), 0), consumer_(q_) {}
    producer make_producer() { return producer(q_); }
    bool push(producer& token, T&& v) { return q_.enqueue(token, std::move(v)); }
    template <class F>
    bool pop(F&& f) {
        if (!q_.try_dequeue(consumer_, item_)) return false;
        f(item_);
        return true;
    }
    [[nodiscard]] std::size_t blocks_allocated() const noexcept { return 0; }

  private:
    moodycamel::ConcurrentQueue<T> q_;
    // What the consumer writes on every pop, on lines of its own.
    alignas(bench::isolation_bytes) moodycamel::ConsumerToken consumer_;
    T item_{};
};

// ---------------------------------------------------------------------------
// Throughput

struct config {
    int reps = 7;
    double seconds = 0.25;
    std::size_t batch = 10000;
    int batches = 10;
    bench::cpu_pair cpus;
};

struct run_result {
    double seconds = 0;
    std::uint64_t messages = 0;
    std::uint64_t errors = 0;
    std::size_t blocks = 0;
};

// How a thread waits for the other side: 64 pauses, then a yield per call.
class idle_wait {
  public:
    void operator()() noexcept {
        if (++idle_ < 64) {
            bench::cpu_relax();
        } else {
            std::this_thread::yield();
        }
    }
    void progress() noexcept { idle_ = 0; }

  private:
    unsigned idle_ = 0;
};

// Runs `producers` producer threads and one consumer, all released at once.
// With one producer the two threads are pinned to `cpus`.
template <class Producer, class Consumer>
void launch(const config& cfg, int producers, Producer&& produce, Consumer&& consume) {
    std::atomic<int> ready{0};
    const int threads = producers + 1;
    auto start_line = [&ready, threads] {
        // Release/acquire: only a start line; the data was set up before.
        ready.fetch_add(1, std::memory_order_release);
        while (ready.load(std::memory_order_acquire) < threads)
            bench::cpu_relax();
    };
    const bool pin = producers == 1;
    std::vector<std::thread> pool;
    pool.emplace_back([&] {
        if (pin) (void)bench::pin_this_thread(cfg.cpus.consumer);
        start_line();
        consume();
    });
    for (int p = 0; p < producers; ++p) {
        pool.emplace_back([&, p] {
            if (pin) (void)bench::pin_this_thread(cfg.cpus.producer);
            start_line();
            produce(p);
        });
    }
    for (auto& t : pool)
        t.join();
}

template <template <class> class Q, class T>
run_result run_throughput(const config& cfg, int producers) {
    Q<T> q(producers);
    // Each producer's handle in an allocation of its own cache lines: two
    // producers' per-send writes never share one.
    std::vector<bench::isolated<typename Q<T>::producer>> handles;
    for (int p = 0; p < producers; ++p)
        handles.push_back(bench::isolate(q.make_producer()));
    std::vector<std::uint64_t> sent(static_cast<std::size_t>(producers), 0);
    std::atomic<int> finished{0};
    const auto length = std::chrono::duration_cast<clock_type::duration>(
        std::chrono::duration<double>(cfg.seconds));
    clock_type::time_point t0, t1;
    std::atomic<bool> started{false};
    run_result result;

    launch(
        cfg, producers,
        [&](int p) {
            // The consumer takes the start time; wait until it has.
            while (!started.load(std::memory_order_acquire))
                bench::cpu_relax();
            const clock_type::time_point deadline = t0 + length;
            auto& handle = *handles[static_cast<std::size_t>(p)];
            std::uint64_t i = 0;
            idle_wait wait;
            do {
                for (const std::uint64_t end = i + 256; i < end; ++i) {
                    T v = message<T>::make(static_cast<std::uint64_t>(p), i);
                    while (!q.push(handle, std::move(v)))
                        wait();
                    wait.progress();
                }
            } while (clock_type::now() < deadline);
            sent[static_cast<std::size_t>(p)] = i;
            // Release pairs with the consumer's acquire: `sent` is readable.
            finished.fetch_add(1, std::memory_order_release);
        },
        [&] {
            t0 = clock_type::now();
            // Release pairs with the producers' acquire: t0 is readable.
            started.store(true, std::memory_order_release);
            std::vector<std::uint64_t> next(static_cast<std::size_t>(producers), 0);
            std::uint64_t received = 0, bad = 0;
            const auto check = [&](const T& v) {
                const msg16& m = message<T>::view(v);
                bad += m.sequence != next[m.producer];
                next[m.producer] = m.sequence + 1;
                ++received;
            };
            idle_wait wait;
            for (;;) {
                if (q.pop(check)) {
                    wait.progress();
                    continue;
                }
                if (finished.load(std::memory_order_acquire) == producers) {
                    std::uint64_t total = 0;
                    for (std::uint64_t s : sent)
                        total += s;
                    if (received == total) break;
                }
                wait();
            }
            t1 = clock_type::now();
            result.messages = received;
            result.errors = bad;
        });
    result.seconds = std::chrono::duration<double>(t1 - t0).count();
    result.blocks = q.blocks_allocated();
    return result;
}

// ---------------------------------------------------------------------------
// Per-message cost, one thread

template <template <class> class Q, class T>
void measure_costs(const config& cfg, bench::op_cost& send_cost, bench::op_cost& recv_cost) {
    Q<T> q(1);
    auto handle = q.make_producer();
    std::vector<T> values;
    std::vector<T> sink;
    values.reserve(cfg.batch);
    sink.reserve(cfg.batch);
    const auto make_values = [&] {
        values.clear();
        for (std::size_t i = 0; i < cfg.batch; ++i)
            values.push_back(message<T>::make(0, i));
    };
    const auto send = [&](std::size_t i) {
        if (!q.push(handle, std::move(values[i]))) std::abort();
    };
    const auto recv = [&](std::size_t) {
        if (!q.pop([&](T& v) { sink.push_back(std::move(v)); })) std::abort();
    };
    const auto drain = [&] {
        while (q.pop([&](T& v) { sink.push_back(std::move(v)); })) {
        }
        sink.clear();
    };
    const auto fill = [&] {
        make_values();
        for (std::size_t i = 0; i < cfg.batch; ++i)
            send(i);
    };
    // Warm-up: the first lap allocates nodes / blocks in every contender.
    fill();
    drain();
    bench::measure_op_cost(send_cost, cfg.batches, cfg.batch, make_values, send, drain);
    bench::measure_op_cost(recv_cost, cfg.batches, cfg.batch, fill, recv, [&] { sink.clear(); });
}

// ---------------------------------------------------------------------------
// The report

// One contender for one message type: its name and its two measurements.
struct contender {
    std::string name;
    run_result (*throughput)(const config&, int producers);
    void (*costs)(const config&, bench::op_cost& send, bench::op_cost& recv);
};

template <template <class> class Q, class T>
contender contender_for() {
    return {Q<T>::name, &run_throughput<Q, T>, &measure_costs<Q, T>};
}

void print_ratios(std::ostream& os, const bench::results& r, const std::string& mine,
                  const std::vector<std::string>& peers) {
    for (const std::string& peer : peers) {
        const bench::stats x = r.ratio(mine, peer, "Mmsg/s");
        char buf[240];
        std::snprintf(buf, sizeof buf, "  %-30s / %-44s %.2f [%.2f-%.2f]\n", mine.c_str(),
                      peer.c_str(), x.median, x.min, x.max);
        os << buf;
    }
}

template <class T>
void report_type(const config& cfg, std::ostream& os) {
    os << "\n=== " << message<T>::name << " ===\n";
    // Unbounded first (0-2), then bounded (3-5); logbuf leads each group.
    const std::vector<contender> all = {
        contender_for<logbuf_unbounded, T>(), contender_for<boost_unbounded, T>(),
        contender_for<moodycamel_queue, T>(), contender_for<logbuf_bounded, T>(),
        contender_for<boost_bounded, T>(),    contender_for<boost_fixed, T>()};
    std::vector<std::string> names;
    for (const contender& c : all)
        names.push_back(c.name);

    for (int producers : {1, 2}) {
        bench::results r;
        std::uint64_t errors = 0;
        std::size_t blocks = 0;
        bench::run_alternating(cfg.reps, all.size(), [&](std::size_t who, int) {
            const run_result x = all[who].throughput(cfg, producers);
            errors += x.errors;
            if (who == 0) blocks = std::max(blocks, x.blocks);
            r.add(names[who], "Mmsg/s", static_cast<double>(x.messages) / x.seconds / 1e6);
            r.add(names[who], "ns/msg", x.seconds * 1e9 / static_cast<double>(x.messages));
        });
        os << "\nthroughput, " << producers << " producer" << (producers > 1 ? "s" : "")
           << (producers == 1 ? " (pinned)" : " (unpinned)") << ", " << cfg.reps
           << " repetitions:\n";
        bench::print_table(os, r, names, {{"Mmsg/s", "Mmsg/s", 2}, {"ns/msg", "ns/msg", 1}}, 46);
        os << "ratios of Mmsg/s (paired per repetition), median [min-max]:\n";
        print_ratios(os, r, names[0], {names[1], names[2]});
        print_ratios(os, r, names[3], {names[4], names[5]});
        if (producers == 1) {
            (void)bench::print_target(os, "logbuf unbounded >= boost::lockfree::queue, 1 producer",
                                      r.ratio(names[0], names[1], "Mmsg/s"), 1.0, bench::at_least);
            // Against the faster of Boost's two bounded configurations in this run.
            const std::string& best =
                r.summary(names[4], "Mmsg/s").median >= r.summary(names[5], "Mmsg/s").median
                    ? names[4]
                    : names[5];
            (void)bench::print_target(os, "logbuf bounded >= faster boost bounded, 1 producer",
                                      r.ratio(names[3], best, "Mmsg/s"), 1.0, bench::at_least);
        }
        os << "  order/count errors: " << errors
           << "; logbuf unbounded blocks allocated (max over runs): " << blocks << "\n";
    }

    std::vector<bench::op_cost> send(all.size()), recv(all.size());
    for (int pass = 0; pass < 2; ++pass) {  // two alternating passes into the same samples
        for (std::size_t k = 0; k < all.size(); ++k)
            all[k].costs(cfg, send[k], recv[k]);
    }
    os << "\nper-message cost, one thread, batches of " << cfg.batch << ":\n";
    std::vector<bench::op_cost_row> rows;
    for (std::size_t k = 0; k < all.size(); ++k) {
        rows.push_back({names[k] + " send", &send[k]});
        rows.push_back({names[k] + " recv", &recv[k]});
    }
    bench::print_op_costs(os, rows, 56);
}

int run(int argc, char** argv) {
    bench::options opt(argc, argv);
    config cfg;
    const bool quick = opt.has("quick");
    cfg.reps = static_cast<int>(opt.get_int("reps", quick ? 3 : 7));
    cfg.seconds = opt.get_double("seconds", quick ? 0.1 : 0.25);
    cfg.batch = static_cast<std::size_t>(opt.get_int("batch", 10000));
    cfg.batches = static_cast<int>(opt.get_int("batches", quick ? 4 : 10));
    opt.reject_unknown();
    cfg.cpus = bench::default_cpu_pair();

    bench::print_machine(std::cout);
    std::cout << "object_bench: reps=" << cfg.reps << " seconds=" << cfg.seconds
              << " batch=" << cfg.batch << " batches=" << cfg.batches
              << " cpus=" << cfg.cpus.producer << "," << cfg.cpus.consumer << "\n";
    report_type<msg16>(cfg, std::cout);
    report_type<boxed>(cfg, std::cout);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return bench::guarded_main("object_bench", argc, argv, run);
}
