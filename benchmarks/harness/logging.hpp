// harness/logging.hpp - what the logging benchmarks share: counting the
// lines that reached a file, a "1,2" list option, and the process's CPU time
// (for the idle-backend measurement).
#pragma once

#include <sys/resource.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace bench {

// Lines in the file: what actually reached it.
inline std::uint64_t count_lines(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return static_cast<std::uint64_t>(std::count(std::istreambuf_iterator<char>(in), {}, '\n'));
}

// "1,2,4" -> {1, 2, 4}. Throws std::invalid_argument on a non-number.
inline std::vector<int> parse_int_list(const std::string& s) {
    std::vector<int> out;
    std::size_t pos = 0;
    while (pos < s.size()) {
        const std::size_t comma = s.find(',', pos);
        out.push_back(std::stoi(s.substr(pos, comma - pos)));
        if (comma == std::string::npos) break;
        pos = comma + 1;
    }
    return out;
}

// User + system CPU time of the whole process so far, in seconds.
inline double process_cpu_seconds() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    const auto sec = [](const timeval& t) {
        return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
    };
    return sec(u.ru_utime) + sec(u.ru_stime);
}

}  // namespace bench
