// harness/latency.hpp - the cost of one operation, measured two ways:
//
//   amortised  one start()/stop() around a batch of N operations, divided by N:
//              what the operation costs in a loop; the timer's overhead is
//              spread over N and vanishes.
//   per op     start()/stop() around each operation, into a histogram: the
//              tail (p99, p99.9, ...). Every sample includes the timer's own
//              overhead (tsc().overhead_*), which the report shows beside it.
//
//   bench::op_cost cost;
//   bench::measure_op_cost(cost, /*batches=*/20, /*batch=*/10000,
//       [&] { /* before each batch: e.g. empty the ring */ },
//       [&](std::size_t i) { /* the operation */ },
//       [&] { /* after each batch: e.g. drain it */ });
//   bench::print_op_costs(std::cout, {{"claim+copy+commit", &cost}});
//   bench::print_latency_table(std::cout, {{"round trip", &some_histogram}});
#pragma once

#include <harness/histogram.hpp>
#include <harness/reporter.hpp>
#include <harness/timer.hpp>

#include <cstddef>
#include <cstdio>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace bench {

struct op_cost {
    std::vector<double> amortised;  // ticks per operation, one sample per batch
    histogram per_op;               // ticks per operation, timer overhead included
};

// Ticks per operation over one batch of `n` calls op(0) ... op(n-1).
template <class Op>
double time_batch(std::size_t n, Op&& op) {
    const ticks t0 = start();
    for (std::size_t i = 0; i < n; ++i)
        op(i);
    const ticks t1 = stop();
    return static_cast<double>(t1 - t0) / static_cast<double>(n);
}

// Each of `n` calls timed on its own into `h`.
template <class Op>
void time_each(std::size_t n, histogram& h, Op&& op) {
    for (std::size_t i = 0; i < n; ++i) {
        const ticks t0 = start();
        op(i);
        const ticks t1 = stop();
        h.record(t1 - t0);
    }
}

// `batches` rounds of: before(); amortised batch; after(); before(); per-op
// batch; after(). before/after run untimed (fill or drain a ring...).
template <class Before, class Op, class After>
void measure_op_cost(op_cost& out, int batches, std::size_t batch, Before&& before, Op&& op,
                     After&& after) {
    for (int b = 0; b < batches; ++b) {
        before();
        out.amortised.push_back(time_batch(batch, op));
        after();
        before();
        time_each(batch, out.per_op, op);
        after();
    }
}

struct op_cost_row {
    std::string name;
    const op_cost* cost;
};

// "30.1ns", "12.3us", "4.1ms": a duration in a unit that keeps it short.
inline std::string format_ns(double ns) {
    char buf[32];
    if (ns < 1e4)
        std::snprintf(buf, sizeof buf, "%.1fns", ns);
    else if (ns < 1e7)
        std::snprintf(buf, sizeof buf, "%.1fus", ns / 1e3);
    else
        std::snprintf(buf, sizeof buf, "%.1fms", ns / 1e6);
    return buf;
}

// "63t 30.1ns": a tick count and what it is in time ("ticks" when huge).
inline std::string ticks_and_ns(double ticks_value) {
    char buf[64];
    if (ticks_value < 1e6)
        std::snprintf(buf, sizeof buf, "%.0ft %s", ticks_value,
                      format_ns(tsc().to_ns(ticks_value)).c_str());
    else
        std::snprintf(buf, sizeof buf, "%.2gt %s", ticks_value,
                      format_ns(tsc().to_ns(ticks_value)).c_str());
    return buf;
}

// Per-op percentiles, one line per histogram, in ticks and ns. Every sample
// includes one timer overhead (printed underneath); rows whose histogram is
// empty are skipped.
inline void print_latency_table(std::ostream& os,
                                const std::vector<std::pair<std::string, const histogram*>>& rows,
                                std::size_t name_width = 46) {
    const tsc_info& t = tsc();
    os << pad("", name_width);
    for (const char* h : {"p50", "p99", "p99.9", "p99.99", "max"})
        os << pad(h, 18);
    os << "samples\n";
    for (const auto& [name, h] : rows) {
        if (h->count() == 0) continue;
        const latency_summary l = h->summary();
        os << pad(name, name_width);
        for (double v : {l.p50, l.p99, l.p999, l.p9999, l.max})
            os << pad(ticks_and_ns(v), 18);
        os << l.count << '\n';
    }
    char buf[200];
    std::snprintf(buf, sizeof buf,
                  "%-*s%-18s(min %.0ft; the counter moves in steps of %.0f ticks here)\n",
                  static_cast<int>(name_width), "(empty start/stop: timer overhead)",
                  ticks_and_ns(t.overhead_median).c_str(), t.overhead_min, t.granularity);
    os << buf;
}

// Two tables: amortised cost per operation (median [min-max] over batches,
// ticks and ns), then the per-op latency percentiles.
inline void print_op_costs(std::ostream& os, const std::vector<op_cost_row>& rows,
                           std::size_t name_width = 46) {
    const tsc_info& t = tsc();
    char buf[320];
    os << "amortised (one timer around each batch):\n";
    std::snprintf(buf, sizeof buf, "%-*s %-26s %s\n", static_cast<int>(name_width), "",
                  "ticks/op median [min-max]", "ns/op median [min-max]");
    os << buf;
    for (const auto& r : rows) {
        const stats a = summarize(r.cost->amortised);
        char ticks_cell[64];
        std::snprintf(ticks_cell, sizeof ticks_cell, "%.2f [%.2f-%.2f]", a.median, a.min, a.max);
        std::snprintf(buf, sizeof buf, "%-*s %-26s %.2f [%.2f-%.2f]\n",
                      static_cast<int>(name_width), r.name.c_str(), ticks_cell, t.to_ns(a.median),
                      t.to_ns(a.min), t.to_ns(a.max));
        os << buf;
    }
    os << "per op (one timer around each operation, timer overhead included):\n";
    std::vector<std::pair<std::string, const histogram*>> hist;
    for (const auto& r : rows)
        hist.emplace_back(r.name, &r.cost->per_op);
    print_latency_table(os, hist, name_width);
}

}  // namespace bench
