#include "bench/load/fanout_run.hpp"

namespace wsring::load {

FanoutRun::FanoutRun(const LoadOptions& options) : options_(options) {
  if (options.scenario == Scenario::Shootout) {
    shootout_board_ = std::make_unique<ShootoutBoard>(shootout_capacity(options.shootout, options.shootout.first_clients));
    shootout_ = std::make_unique<ShootoutDriver>(options, *shootout_board_, options.quiet ? nullptr : stderr);
  }
  if (options.scenario == Scenario::Pubsub) pubsub_ = std::make_unique<PubsubBoard>(options.pubsub.topics);
}

void FanoutRun::plan(WorkerPlan& plan) const {
  plan.shootout = shootout_board_.get();
  plan.pubsub = pubsub_.get();
}

bool FanoutRun::poll(uint64_t now, bool running, bool draining, uint64_t open, uint64_t failed,
                     const std::vector<uint64_t>& open_per_worker) {
  if (pubsub_ && running && !draining && pubsub_->start_ns.load() == 0 && pubsub_->subscribed.load() >= open)
    pubsub_->start_ns.store(now, std::memory_order_release);
  return shootout_ && running && !draining && shootout_->poll(now, open, failed, open_per_worker);
}

void FanoutRun::settle(WorkerTotals& totals) {
  if (!pubsub_) return;
  pubsub_totals_ = pubsub_totals(*pubsub_);
  pubsub_totals_.dropped = totals.dropped;
  totals.lost = pubsub_totals_.lost;
}

void FanoutRun::add_to_report(std::FILE* human, RunReport& report) const {
  if (shootout_) {
    std::fputs(shootout_->summary_text().c_str(), human);
    report.extra_json += shootout_->json_member();
  }
  if (pubsub_) {
    std::fputs(pubsub_summary_text(options_.pubsub, pubsub_totals_, report.totals.push).c_str(), human);
    report.extra_json += pubsub_json_member(options_.pubsub, pubsub_totals_, report.totals.push);
  }
}

}  // namespace wsring::load
