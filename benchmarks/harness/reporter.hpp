// harness/reporter.hpp - repetitions, medians and spreads, ratios against
// peers measured in the same run, and a plain-text table.
//
//   bench::results r;
//   bench::run_alternating(reps, {"spsc", "boost"}, [&](std::size_t who, int rep) {
//       r.add(names[who], "GB/s", measure(who));      // one sample per repetition
//   });
//   bench::print_table(std::cout, r, {"spsc", "boost"}, {{"GB/s", "GB/s", 2}});
//   bench::stats x = r.ratio("spsc", "boost", "GB/s");   // paired, per repetition
//   bench::print_target(std::cout, "spsc >= 3x boost", x, 3.0, bench::at_least);
//
// On a shared, noisy machine a single number means little: every contender
// runs once per repetition, in an order rotated each repetition so none is
// always first after a pause, and a ratio is taken per repetition (a and b
// measured back to back) before its median, so a slow phase of the machine
// that lasts a whole repetition cancels out of the ratio.
#pragma once

#include <algorithm>
#include <cstdio>
#include <map>
#include <ostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace bench {

// Median and spread of a set of samples.
struct stats {
    std::size_t n = 0;
    double median = 0, min = 0, max = 0, q1 = 0, q3 = 0;
};

// Quantile by linear interpolation between closest ranks; `sorted` non-empty.
inline double quantile_sorted(const std::vector<double>& sorted, double q) {
    const double pos = q * static_cast<double>(sorted.size() - 1);
    const auto lo = static_cast<std::size_t>(pos);
    const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - static_cast<double>(lo));
}

inline stats summarize(std::vector<double> v) {
    stats s;
    s.n = v.size();
    if (v.empty()) return s;
    std::sort(v.begin(), v.end());
    s.min = v.front();
    s.max = v.back();
    s.median = quantile_sorted(v, 0.5);
    s.q1 = quantile_sorted(v, 0.25);
    s.q3 = quantile_sorted(v, 0.75);
    return s;
}

// Samples by (row, metric): a row is a contender, a metric one measured
// quantity, a sample one repetition. Rows keep the order they were added in.
class results {
  public:
    void add(const std::string& row, const std::string& metric, double value) {
        if (std::find(rows_.begin(), rows_.end(), row) == rows_.end()) rows_.push_back(row);
        samples_[{row, metric}].push_back(value);
    }

    [[nodiscard]] bool has(const std::string& row, const std::string& metric) const {
        return samples_.count({row, metric}) != 0;
    }

    [[nodiscard]] const std::vector<double>& samples(const std::string& row,
                                                     const std::string& metric) const {
        const auto it = samples_.find({row, metric});
        if (it == samples_.end())
            throw std::out_of_range("bench::results: no " + row + "/" + metric);
        return it->second;
    }

    [[nodiscard]] stats summary(const std::string& row, const std::string& metric) const {
        return summarize(samples(row, metric));
    }

    // a/b per repetition (a's i-th sample over b's i-th), summarised. Both
    // rows must have been measured in the same repetitions.
    [[nodiscard]] stats ratio(const std::string& a, const std::string& b,
                              const std::string& metric) const {
        const auto& x = samples(a, metric);
        const auto& y = samples(b, metric);
        std::vector<double> r;
        for (std::size_t i = 0; i < std::min(x.size(), y.size()); ++i)
            r.push_back(x[i] / y[i]);
        return summarize(std::move(r));
    }

    // The same, over the repetitions where both rows' `by` samples lie in
    // [lo, hi) (e.g. the runs that saw one state of the machine).
    [[nodiscard]] stats ratio_where(const std::string& a, const std::string& b,
                                    const std::string& metric, const std::string& by, double lo,
                                    double hi) const {
        const auto& x = samples(a, metric);
        const auto& y = samples(b, metric);
        const auto& bx = samples(a, by);
        const auto& by_ = samples(b, by);
        std::vector<double> r;
        for (std::size_t i = 0; i < std::min(x.size(), y.size()); ++i)
            if (bx[i] >= lo && bx[i] < hi && by_[i] >= lo && by_[i] < hi) r.push_back(x[i] / y[i]);
        return summarize(std::move(r));
    }

    [[nodiscard]] const std::vector<std::string>& rows() const noexcept { return rows_; }

  private:
    std::vector<std::string> rows_;
    std::map<std::pair<std::string, std::string>, std::vector<double>> samples_;
};

// Calls run(contender_index, repetition) for every contender in every
// repetition; repetition r starts at contender r mod n (a rotation).
template <class Run>
void run_alternating(int repetitions, std::size_t contenders, Run&& run) {
    for (int rep = 0; rep < repetitions; ++rep)
        for (std::size_t k = 0; k < contenders; ++k)
            run((static_cast<std::size_t>(rep) + k) % contenders, rep);
}

// One column of a table: which metric, its heading, digits after the point.
struct column {
    std::string metric;
    std::string heading;
    int precision = 2;
};

// "median [min-max]" in a fixed-width cell.
inline std::string format_stats(const stats& s, int precision) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "%.*f [%.*f-%.*f]", precision, s.median, precision, s.min,
                  precision, s.max);
    return buf;
}

inline std::string pad(std::string s, std::size_t width) {
    if (s.size() < width) s.append(width - s.size(), ' ');
    return s;
}

// A table: one line per row, each cell "median [min-max]" over repetitions.
// Cells for metrics a row lacks are blank.
inline void print_table(std::ostream& os, const results& r, const std::vector<std::string>& rows,
                        const std::vector<column>& columns, std::size_t name_width = 34,
                        std::size_t cell_width = 26) {
    os << pad("", name_width);
    for (const auto& c : columns)
        os << pad(c.heading + " median [min-max]", cell_width);
    os << '\n';
    for (const auto& row : rows) {
        os << pad(row, name_width);
        for (const auto& c : columns)
            os << pad(r.has(row, c.metric) ? format_stats(r.summary(row, c.metric), c.precision)
                                           : std::string("-"),
                      cell_width);
        os << '\n';
    }
}

enum direction { at_least, at_most };

// One "a / b" line: the ratio of two rows' `metric`, paired per repetition,
// as median [min-max] and the interquartile range.
inline void print_ratio(std::ostream& os, const results& r, const std::string& what,
                        const std::string& a, const std::string& b, const std::string& metric) {
    const stats s = r.ratio(a, b, metric);
    char buf[256];
    std::snprintf(buf, sizeof buf, "  %-50s %7.3f [%.3f-%.3f]  IQR %.3f-%.3f\n", what.c_str(),
                  s.median, s.min, s.max, s.q1, s.q3);
    os << buf;
}

// Prints a target line and returns whether the median meets it. A report,
// not a test: nothing fails on a miss.
inline bool print_target(std::ostream& os, const std::string& what, const stats& measured,
                         double threshold, direction dir, const char* unit = "x") {
    const bool met = dir == at_least ? measured.median >= threshold : measured.median <= threshold;
    const bool always = dir == at_least ? measured.min >= threshold : measured.max <= threshold;
    char buf[256];
    std::snprintf(buf, sizeof buf, "  %-58s %s %6.2f%s  measured %6.2f%s [%.2f-%.2f]  %s\n",
                  what.c_str(), dir == at_least ? ">=" : "<=", threshold, unit, measured.median,
                  unit, measured.min, measured.max,
                  met ? (always ? "MET (every repetition)" : "MET (median)") : "MISSED");
    os << buf;
    return met;
}

}  // namespace bench
