// harness/main.hpp - every benchmark's main(): run, and turn an exception
// (a bad option, a failed allocation) into a message and exit code 2.
//
//   int main(int argc, char** argv) { return bench::guarded_main("x_bench", argc, argv, run); }
#pragma once

#include <cstdio>
#include <exception>

namespace bench {

template <class Run>
int guarded_main(const char* program, int argc, char** argv, Run run) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: %s\n", program, e.what());
        return 2;
    }
}

}  // namespace bench
