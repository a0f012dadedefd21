// harness/machine.hpp - what the numbers were measured on: CPU model, cores,
// kernel, compiler and flags, the load average, the timer's calibration.
// Every benchmark prints this first, so a table never travels without it.
//
//   bench::print_machine(std::cout);
//
// The compile flags come from the build (CMake passes LOGBUF_BENCH_CXX_FLAGS
// and LOGBUF_BENCH_BUILD_TYPE to every benchmark); the rest is read at run time.
#pragma once

#include <harness/affinity.hpp>
#include <harness/timer.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <ostream>
#include <string>
#include <thread>

#if defined(__linux__) || defined(__APPLE__)
#include <sys/utsname.h>
#endif

#ifndef LOGBUF_BENCH_CXX_FLAGS
#define LOGBUF_BENCH_CXX_FLAGS "(unknown)"
#endif
#ifndef LOGBUF_BENCH_BUILD_TYPE
#define LOGBUF_BENCH_BUILD_TYPE "(unknown)"
#endif

namespace bench {

// The first "key : value" line of /proc/cpuinfo with this key, or "".
inline std::string cpuinfo_field(const std::string& key) {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.compare(0, key.size(), key) != 0) continue;
        const auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        return line.substr(line.find_first_not_of(" \t", colon + 1));
    }
    return "";
}

inline bool cpu_has_flag(const std::string& flag) {
    const std::string flags = " " + cpuinfo_field("flags") + " ";
    return flags.find(" " + flag + " ") != std::string::npos;
}

// "1.23 0.80 0.40" from /proc/loadavg (1, 5, 15 minutes), or "".
inline std::string load_average() {
    std::ifstream in("/proc/loadavg");
    std::string a, b, c;
    in >> a >> b >> c;
    return in ? a + " " + b + " " + c : "";
}

// Percent of all CPU time spent busy (not idle or waiting on I/O) over
// `window`, from /proc/stat: what else is running on the machine while we
// are not. -1 where /proc/stat is missing.
inline double cpu_busy_percent(std::chrono::milliseconds window = std::chrono::milliseconds(500)) {
    const auto sample = [](double& idle, double& total) {
        std::ifstream in("/proc/stat");
        std::string cpu;
        in >> cpu;
        idle = total = 0;
        double v;
        for (int field = 0; field < 8 && (in >> v); ++field) {
            total += v;
            if (field == 3 || field == 4) idle += v;  // idle, iowait
        }
        return cpu == "cpu" && total > 0;
    };
    double i0, t0, i1, t1;
    if (!sample(i0, t0)) return -1;
    std::this_thread::sleep_for(window);
    if (!sample(i1, t1) || t1 <= t0) return -1;
    return 100.0 * (1.0 - (i1 - i0) / (t1 - t0));
}

inline std::string kernel_release() {
#if defined(__linux__) || defined(__APPLE__)
    utsname u{};
    if (uname(&u) == 0) return std::string(u.sysname) + " " + u.release + " " + u.machine;
#endif
    return "(unknown)";
}

inline std::string compiler_name() {
#if defined(__clang__)
    return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
    return std::string("g++ ") + __VERSION__;
#else
    return "(unknown compiler)";
#endif
}

inline void print_machine(std::ostream& os) {
    const tsc_info& t = tsc();
    const cpu_pair cpus = default_cpu_pair();
    char buf[256];
    os << "machine\n";
    os << "  cpu        " << cpuinfo_field("model name") << " (family "
       << cpuinfo_field("cpu family") << " model " << cpuinfo_field("model") << ")"
       << (cpu_has_flag("hypervisor") ? ", virtual machine" : "") << '\n';
    os << "  cores      " << std::thread::hardware_concurrency() << " online, "
       << allowed_cpus().size() << " allowed; producer on CPU " << cpus.producer
       << ", consumer on CPU " << cpus.consumer << '\n';
    os << "  kernel     " << kernel_release() << '\n';
    os << "  compiler   " << compiler_name() << '\n';
    os << "  flags      " << LOGBUF_BENCH_BUILD_TYPE << ": " << LOGBUF_BENCH_CXX_FLAGS << '\n';
    std::snprintf(buf, sizeof buf,
                  "  timer      rdtsc %.4f ticks/ns (%.3f GHz)%s, steps of %.0f ticks; empty "
                  "start/stop %.0f ticks min, %.0f median (%.1f ns)\n",
                  t.ticks_per_ns, t.ticks_per_ns,
                  cpu_has_flag("constant_tsc") ? ", constant rate" : "", t.granularity,
                  t.overhead_min, t.overhead_median, t.to_ns(t.overhead_median));
    os << buf;
    if (t.core_ghz > 0) {
        std::snprintf(buf, sizeof buf,
                      "  core clock ~%.2f GHz (dependent-add chain): 1 tick = %.2f core cycles\n",
                      t.core_ghz, t.core_ghz / t.ticks_per_ns);
        os << buf;
    }
    const double busy = cpu_busy_percent();
    std::snprintf(buf, sizeof buf,
                  "  load       %.0f%% of CPU time busy in the last 0.5 s; load average %s\n", busy,
                  load_average().c_str());
    os << buf;
    if (busy > 10.0)
        os << "  WARNING    the machine is busy: two-thread results will be disturbed\n";
}

}  // namespace bench
