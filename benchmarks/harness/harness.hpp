// harness/harness.hpp - everything a logbuf benchmark needs, in one include.
//
//   timer.hpp         rdtsc start()/stop(), tsc() calibration and overhead
//   histogram.hpp     latency histogram: p50 ... p99.99, max
//   affinity.hpp      pin_this_thread, cpu_pair, run_pinned_pair
//   reporter.hpp      results, run_alternating, ratios, print_table, print_target
//   record_sizes.hpp  record_sequence (seeded sizes), random_bytes
//   machine.hpp       print_machine
//   main.hpp          guarded_main: main() that reports exceptions
//   optimize.hpp      do_not_optimize, clobber_memory, cpu_relax
//   options.hpp       --name=value options
//   logging.hpp       count_lines, parse_int_list, process_cpu_seconds (logging benchmarks)
//   latency.hpp       per-operation cost: batch-amortised and per-op histogram
//   throughput.hpp    run_throughput_pair: timed producer/consumer runs, GB/s and Mrec/s
//   peers.hpp         workload (record sizes + payloads), the Boost.Lockfree contenders
#pragma once

#include <harness/affinity.hpp>
#include <harness/coupling.hpp>
#include <harness/histogram.hpp>
#include <harness/latency.hpp>
#include <harness/logging.hpp>
#include <harness/machine.hpp>
#include <harness/main.hpp>
#include <harness/optimize.hpp>
#include <harness/options.hpp>
#include <harness/peers.hpp>
#include <harness/record_sizes.hpp>
#include <harness/reporter.hpp>
#include <harness/throughput.hpp>
#include <harness/timer.hpp>
