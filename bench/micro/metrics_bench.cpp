// Metrics micro-benchmarks: what a scrape of /metrics costs the admin thread (sum the board,
// write ~90 samples), and what publishing costs a reactor once per tick. Neither depends on the
// number of connections: the board holds per-thread sums, not per-connection state.
#include <benchmark/benchmark.h>

#include "server/admin_routes.hpp"
#include "server/metrics.hpp"

namespace {

using namespace wsring::server;

void BM_ScrapeMetrics(benchmark::State& state) {
  SharedState shared(1 << 30);
  StatsBoard board(unsigned(state.range(0)), 0);
  ServerStats s;
  s.accepted = 10000;
  s.messages_echoed = 123456789;
  for (unsigned t = 0; t < board.threads(); ++t) board.publish(t, s, ThreadGauges{5000, 12, 3}, 0);
  size_t bytes = 0;
  for (auto _ : state) {
    const AdminResponse r = answer_admin("/metrics", board, shared, "io_uring", 0);
    bytes = r.body.size();
    benchmark::DoNotOptimize(r.body.data());
  }
  state.counters["bytes"] = double(bytes);
}
BENCHMARK(BM_ScrapeMetrics)->Arg(1)->Arg(2)->Arg(16);

void BM_PublishOneTick(benchmark::State& state) {
  StatsBoard board(1, 0);
  ServerStats s;
  uint64_t now = 0;
  for (auto _ : state) {
    ++s.receives;
    board.publish(0, s, ThreadGauges{}, ++now);
  }
}
BENCHMARK(BM_PublishOneTick);

}  // namespace
