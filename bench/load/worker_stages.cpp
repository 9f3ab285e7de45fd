// --stage: the worker's connections follow the plan's target (opened from the lowest slot up,
// closed from the highest down with a close handshake), and with rates its messages follow the
// plan's schedule: the run's messages are numbered in time order (message k is due when the
// plan has accrued k + 1 messages), worker i takes k = i, i + workers, ..., and gives each to
// one of its connections targeted at that moment, round-robin. A message whose connection is
// not open then is dropped (bench/README.md); latency counts from its due time.
#include <cmath>

#include "bench/load/worker.hpp"

namespace wsring::load {

void LoadWorker::start_stages(uint64_t now) {
  stage_start_ns_ = run_.steady_start_ns.load(std::memory_order_relaxed);
  if (staged_rate_) {
    stage_next_message_ = plan_.index;
    stage_next_ns_ = stage_message_ns(stage_next_message_);
    rate_started_ = true;
  }
  apply_stage_connections(now);
}

uint64_t LoadWorker::stage_message_ns(uint64_t message) const {
  const double t = stages_->time_of_message(message);
  // Due after the plan's end (its last rate would go on): not part of the run.
  if (!std::isfinite(t) || t > stages_->duration_s() * (1 + 1e-12)) return ~uint64_t{0};
  return stage_start_ns_ + uint64_t(t * 1e9);
}

void LoadWorker::apply_stage_connections(uint64_t now) {
  const double t = double(now > stage_start_ns_ ? now - stage_start_ns_ : 0) / 1e9;
  const uint32_t want =
      std::min<uint32_t>(local_count(stages_->connections_at(t), plan_.workers, plan_.index), uint32_t(connections_.size()));
  if (want > stage_target_) {
    // Pushed highest first: start_connects pops from the back, so the lowest slot opens first.
    for (uint32_t l = want; l-- > stage_target_;) {
      Connection& c = connections_[l];
      if (c.state == ConnState::Idle) {
        c.retired = false;
        ready_.push_back(l);
      }  // else it is still closing from an earlier ramp down: on_closed requeues it
    }
    stage_target_ = want;
    start_connects(now);
    return;
  }
  for (uint32_t l = want; l < stage_target_; ++l) {
    Connection& c = connections_[l];
    c.retired = true;
    if (c.state == ConnState::Open) {
      begin_close(l, c, now);
    } else if (is_opening(c.state)) {
      finish(l, c, true);  // cut short by the ramp down: neither opened nor failed
    }
  }
  stage_target_ = want;
}

void LoadWorker::pump_staged(uint64_t now) {
  while (stage_next_ns_ <= now) {
    const uint64_t message = stage_next_message_;
    const uint64_t due = stage_next_ns_;
    stage_next_message_ += plan_.workers;
    stage_next_ns_ = stage_message_ns(stage_next_message_);
    const double t = double(due - std::min(due, stage_start_ns_)) / 1e9;
    const uint32_t targeted =
        std::min<uint32_t>(local_count(stages_->connections_at(t), plan_.workers, plan_.index), uint32_t(connections_.size()));
    if (targeted == 0) {
      ++totals_.dropped;
      continue;
    }
    Connection& c = connections_[(message / plan_.workers) % targeted];
    if (c.state != ConnState::Open) {
      ++totals_.dropped;
      continue;
    }
    stage_due_[c.local].push_back(due);
    top_up(c, now);
    flush(c.local, c);
  }
}

}  // namespace wsring::load
