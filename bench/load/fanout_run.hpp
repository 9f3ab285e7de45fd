// The fan-out scenarios' part of a run on main's thread (--scenario shootout and pubsub): the
// boards the workers share, the step-up driver, and what they add to the report. A run of
// another scenario has neither and this does nothing.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <vector>

#include "bench/load/options.hpp"
#include "bench/load/report.hpp"
#include "bench/load/scenario_pubsub.hpp"
#include "bench/load/scenario_shootout.hpp"
#include "bench/load/shootout_driver.hpp"
#include "bench/load/worker.hpp"

namespace wsring::load {

class FanoutRun {
 public:
  explicit FanoutRun(const LoadOptions& options);

  void plan(WorkerPlan& plan) const;  // hands the workers the boards
  // Every few milliseconds with the run's state and each worker's open connections. pubsub:
  // publishing starts once every open client has subscribed. True once the shootout's steps
  // have ended the run.
  bool poll(uint64_t now, bool running, bool draining, uint64_t open, uint64_t failed,
            const std::vector<uint64_t>& open_per_worker);
  bool decides_the_end() const { return shootout_ != nullptr; }  // shootout: no --duration
  // After the workers are done: pubsub's lost deliveries, counted over the topics (trailing ones
  // included), replace the sequence gaps in `totals`.
  void settle(WorkerTotals& totals);
  // The summary lines (to `human`) and the JSON member (report.extra_json).
  void add_to_report(std::FILE* human, RunReport& report) const;
  // 1: the step-up stopped on an error; publishes were dropped (what was asked was not sent).
  int exit_status() const {
    return (shootout_ && shootout_->exit_status()) || (pubsub_ && pubsub_totals_.dropped) ? 1 : 0;
  }

 private:
  const LoadOptions& options_;
  std::unique_ptr<ShootoutBoard> shootout_board_;
  std::unique_ptr<ShootoutDriver> shootout_;
  std::unique_ptr<PubsubBoard> pubsub_;
  PubsubTotals pubsub_totals_;
};

}  // namespace wsring::load
