// --scenario shootout on main's thread: moves the step-up through its phases. Each step asks the
// workers for more clients (ShootoutBoard::target_clients) and waits until they are all open;
// then keeps --concurrent broadcasts in flight (ShootoutBoard::issued) until --sample-size of them
// are complete (every client received it and the sender has its broadcastResult), or one times
// out. A step whose percentile RTT passes --limit-rtt ends the run; so do --max-clients, a
// connection that failed, and a broadcast that timed out (its missing deliveries are lost).
#pragma once

#include <cstdint>
#include <cstdio>
#include <deque>
#include <string>
#include <vector>

#include "bench/load/options.hpp"
#include "bench/load/scenario_shootout.hpp"

namespace wsring::load {

// A broadcast not complete this long after it was issued is given up: max(10 s, 20 x --limit-rtt).
uint64_t shootout_broadcast_timeout_ns(const ShootoutOptions& options);

class ShootoutDriver {
 public:
  // `progress`: where each step's line goes as it completes (nullptr: nowhere).
  ShootoutDriver(const LoadOptions& options, ShootoutBoard& board, std::FILE* progress);

  // Called every few milliseconds with the run clock, the open connections and failed attempts
  // (all workers), and each worker's open connections. True once the run is over.
  bool poll(uint64_t now, uint64_t open, uint64_t failed, const std::vector<uint64_t>& open_per_worker);

  const std::vector<ShootoutStep>& steps() const { return steps_; }
  std::string summary_text() const;  // the step lines and the result
  std::string json_member() const;   // "  \"shootout\": {...},\n"
  int exit_status() const { return error_.empty() ? 0 : 1; }

 private:
  enum class Phase { Opening, Broadcasting, Done };
  void start_step(uint64_t now);
  bool poll_opening(uint64_t now, uint64_t open, uint64_t failed);
  void poll_broadcasts(uint64_t now, const std::vector<uint64_t>& open_per_worker);
  void issue(uint64_t now, const std::vector<uint64_t>& open_per_worker);
  void finish_step(uint64_t now);
  void end(const std::string& error);

  const LoadOptions& options_;
  const ShootoutOptions& so_;
  ShootoutBoard& board_;
  std::FILE* progress_;
  Phase phase_ = Phase::Opening;
  uint32_t clients_ = 0;           // the current step's target
  uint64_t step_deadline_ns_ = 0;  // the clients must be open by then
  uint64_t failed_before_ = 0;
  uint64_t next_id_ = 0;           // the next broadcast to issue
  uint32_t issued_in_step_ = 0;
  uint32_t next_worker_ = 0;       // round-robin over workers with open clients
  std::deque<uint64_t> in_flight_;
  std::vector<uint64_t> rtt_ns_, result_ns_;
  uint64_t step_lost_ = 0, step_duplicates_ = 0;
  std::vector<ShootoutStep> steps_;
  std::string outcome_;            // how the run ended
  std::string error_;              // why it ended badly; empty when it completed
};

}  // namespace wsring::load
