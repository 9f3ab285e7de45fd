#include "bench/load/rate_scheduler.hpp"

namespace wsring::load {

RateScheduler::RateScheduler(double total_rate, uint32_t total_connections, uint32_t first_global_id,
                             uint32_t stride, uint32_t local_count)
    : interval_ns_(total_rate > 0 ? 1e9 / total_rate : 0),
      total_connections_(total_connections),
      first_(first_global_id),
      stride_(stride ? stride : 1),
      local_count_(local_count) {
  start(0);
}

void RateScheduler::start(uint64_t start_ns) {
  start_ns_ = start_ns;
  next_local_ = 0;
  next_sequence_ = 0;
  next_ns_ = intended_ns(0, 0);
}

uint64_t RateScheduler::intended_ns(uint32_t local, uint64_t sequence) const {
  // A double holds the slot index exactly up to 2^53 and the product to well under a
  // nanosecond for any run that ends this century: computing each time from the index keeps
  // the schedule free of accumulated rounding drift.
  const double slot = double(sequence) * double(total_connections_) + double(first_ + uint64_t(local) * stride_);
  return start_ns_ + uint64_t(slot * interval_ns_);
}

void RateScheduler::advance() {
  if (local_count_ == 0) return;
  if (++next_local_ == local_count_) {
    next_local_ = 0;
    ++next_sequence_;
  }
  next_ns_ = intended_ns(next_local_, next_sequence_);
}

}  // namespace wsring::load
