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
#pragma once

#include <harness/histogram.hpp>
#include <harness/reporter.hpp>
#include <harness/timer.hpp>

#include <cstddef>
#include <cstdio>
#include <ostream>
#include <string>
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

// One line per operation: amortised median [min-max] in ticks and ns, then
// the per-op percentiles in ticks, then the timer's overhead for reference.
inline void print_op_costs(std::ostream& os, const std::vector<op_cost_row>& rows,
                           std::size_t name_width = 40) {
    const tsc_info& t = tsc();
    char buf[320];
    std::snprintf(buf, sizeof buf, "%-*s %-24s %8s | %26s\n", static_cast<int>(name_width),
                  "operation", "amortised ticks [min-max]", "ns",
                  "per-op ticks (incl. timer): p50  p99  p99.9  p99.99  max");
    os << buf;
    for (const auto& r : rows) {
        const stats a = summarize(r.cost->amortised);
        const latency_summary l = r.cost->per_op.summary();
        char amort[64];
        std::snprintf(amort, sizeof amort, "%.1f [%.1f-%.1f]", a.median, a.min, a.max);
        if (l.count == 0)
            std::snprintf(buf, sizeof buf, "%-*s %-24s %8.2f | %6s\n", static_cast<int>(name_width),
                          r.name.c_str(), amort, t.to_ns(a.median), "-");
        else
            std::snprintf(buf, sizeof buf, "%-*s %-24s %8.2f | %6.0f %6.0f %7.0f %8.0f %9.0f\n",
                          static_cast<int>(name_width), r.name.c_str(), amort, t.to_ns(a.median),
                          l.p50, l.p99, l.p999, l.p9999, l.max);
        os << buf;
    }
    std::snprintf(buf, sizeof buf,
                  "%-*s %-24s %8.2f | %6.0f   (empty start/stop pair: min %.0f; counter "
                  "steps of %.0f ticks)\n",
                  static_cast<int>(name_width), "(timer overhead, per op)", "-",
                  t.to_ns(t.overhead_median), t.overhead_median, t.overhead_min, t.granularity);
    os << buf;
}

}  // namespace bench
