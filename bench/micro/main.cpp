// The one main() of wsring-bench; every bench/micro/*_bench.cpp only registers benchmarks.
#include <benchmark/benchmark.h>

BENCHMARK_MAIN();
