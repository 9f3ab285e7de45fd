#include "bench/load/shootout_driver.hpp"

#include <algorithm>

namespace wsring::load {

namespace {

constexpr uint64_t kSecondNs = 1'000'000'000;

std::string escaped(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) out += c;
  }
  return out;
}

}  // namespace

uint64_t shootout_broadcast_timeout_ns(const ShootoutOptions& o) {
  return std::max<uint64_t>(10 * kSecondNs, uint64_t(20 * o.limit_rtt_s * 1e9));
}

ShootoutDriver::ShootoutDriver(const LoadOptions& options, ShootoutBoard& board, std::FILE* progress)
    : options_(options), so_(options.shootout), board_(board), progress_(progress) {}

void ShootoutDriver::start_step(uint64_t now) {
  clients_ = steps_.empty() ? so_.first_clients : std::min(so_.max_clients, clients_ + so_.step_size);
  // Connects take what --connect-rate allows, then the handshake timeout, then some slack.
  const double pacing_s = options_.connect_rate > 0 ? double(clients_) / options_.connect_rate : 0;
  step_deadline_ns_ = now + uint64_t((pacing_s + options_.handshake_timeout_s + 5) * 1e9);
  issued_in_step_ = 0;
  rtt_ns_.clear();
  result_ns_.clear();
  step_lost_ = step_duplicates_ = 0;
  phase_ = Phase::Opening;
  board_.target_clients.store(clients_, std::memory_order_release);
}

bool ShootoutDriver::poll(uint64_t now, uint64_t open, uint64_t failed, const std::vector<uint64_t>& open_per_worker) {
  if (phase_ == Phase::Done) return true;
  if (steps_.empty() && clients_ == 0) {
    failed_before_ = failed;
    start_step(now);
  }
  if (phase_ == Phase::Opening && poll_opening(now, open, failed)) issue(now, open_per_worker);
  if (phase_ == Phase::Broadcasting) poll_broadcasts(now, open_per_worker);
  return phase_ == Phase::Done;
}

bool ShootoutDriver::poll_opening(uint64_t now, uint64_t open, uint64_t failed) {
  if (failed > failed_before_) {
    end(std::to_string(failed - failed_before_) + " connection(s) failed while opening step " +
        std::to_string(steps_.size() + 1) + " (" + std::to_string(clients_) + " clients; see errors)");
    return false;
  }
  if (open >= clients_) {
    phase_ = Phase::Broadcasting;
    return true;
  }
  if (now >= step_deadline_ns_)
    end("step " + std::to_string(steps_.size() + 1) + ": only " + std::to_string(open) + " of " +
        std::to_string(clients_) + " clients open in time");
  return false;
}

void ShootoutDriver::issue(uint64_t now, const std::vector<uint64_t>& open_per_worker) {
  while (in_flight_.size() < so_.concurrent && issued_in_step_ < so_.sample_size && next_id_ < board_.capacity()) {
    // The sender: the next worker (round-robin) that has an open client.
    uint32_t worker = next_worker_;
    for (size_t tries = 0; tries < open_per_worker.size() && open_per_worker[worker] == 0; ++tries)
      worker = uint32_t((worker + 1) % open_per_worker.size());
    next_worker_ = uint32_t((worker + 1) % open_per_worker.size());
    BroadcastSlot& slot = board_.slot(next_id_);
    slot.expected = clients_;
    slot.sender_worker = worker;
    slot.issued_ns = now;
    in_flight_.push_back(next_id_);
    ++issued_in_step_;
    board_.issued.store(++next_id_, std::memory_order_release);
  }
}

void ShootoutDriver::poll_broadcasts(uint64_t now, const std::vector<uint64_t>& open_per_worker) {
  const uint64_t timeout = shootout_broadcast_timeout_ns(so_);
  for (size_t i = 0; i < in_flight_.size();) {
    BroadcastSlot& slot = board_.slot(in_flight_[i]);
    const uint32_t receipts = slot.receipts.load(std::memory_order_acquire);
    const uint64_t result = slot.result_ns.load(std::memory_order_acquire);
    const uint64_t sent = slot.send_ns.load(std::memory_order_acquire);
    if (receipts >= slot.expected && result != 0 && sent != 0) {
      const uint64_t last = std::max(result, slot.last_receipt_ns.load(std::memory_order_acquire));
      rtt_ns_.push_back(last > sent ? last - sent : 0);
      result_ns_.push_back(result > sent ? result - sent : 0);
      step_duplicates_ += slot.duplicates.load(std::memory_order_relaxed);
      in_flight_.erase(in_flight_.begin() + long(i));
      continue;
    }
    if (slot.unsent.load(std::memory_order_acquire)) {
      end("broadcast " + std::to_string(in_flight_[i]) + ": its sender's thread had no open client");
      return;
    }
    if (now >= slot.issued_ns + timeout) {
      step_lost_ += slot.expected - std::min(slot.expected, receipts);
      end("broadcast " + std::to_string(in_flight_[i]) + " incomplete after " +
          std::to_string(timeout / kSecondNs) + " s: " + std::to_string(receipts) + " of " +
          std::to_string(slot.expected) + " clients received it, broadcastResult " +
          (result ? "received" : "missing"));
      return;
    }
    ++i;
  }
  if (in_flight_.empty() && issued_in_step_ >= so_.sample_size) {
    finish_step(now);
    return;
  }
  if (next_id_ >= board_.capacity() && in_flight_.empty()) {
    end("the broadcast board is full (a bug: it holds every step's sample)");
    return;
  }
  issue(now, open_per_worker);
}

void ShootoutDriver::finish_step(uint64_t now) {
  ShootoutStep step = summarize_step(clients_, rtt_ns_, result_ns_, so_);
  step.lost = step_lost_;
  step.duplicates = step_duplicates_;
  steps_.push_back(step);
  if (progress_) {
    std::fputs(shootout_step_line(step, steps_.size(), so_).c_str(), progress_);
    std::fflush(progress_);
  }
  if (step.duplicates) {
    end(std::to_string(step.duplicates) + " duplicate deliveries in step " + std::to_string(steps_.size()));
  } else if (step.crossed) {
    outcome_ = "the " + percentile_key(so_.limit_percentile) + " RTT crossed the limit at step " +
               std::to_string(steps_.size()) + " (" + std::to_string(step.clients) + " clients)";
    phase_ = Phase::Done;
  } else if (clients_ >= so_.max_clients) {
    outcome_ = "--max-clients reached without crossing the limit";
    phase_ = Phase::Done;
  } else {
    start_step(now);
  }
}

void ShootoutDriver::end(const std::string& error) {
  if (!rtt_ns_.empty() || step_lost_) {  // a step cut short still shows what it measured, and its losses
    ShootoutStep step = summarize_step(clients_, rtt_ns_, result_ns_, so_);
    step.lost = step_lost_;
    step.duplicates = step_duplicates_;
    step.crossed = false;  // incomplete: not a verdict on the limit
    steps_.push_back(step);
    if (progress_) std::fputs(shootout_step_line(step, steps_.size(), so_).c_str(), progress_);
  }
  error_ = error;
  outcome_ = "stopped: " + error;
  phase_ = Phase::Done;
}

namespace {

// The clients of the last step that held the limit, and the (1-based) step that crossed it.
void limit_figures(const std::vector<ShootoutStep>& steps, uint32_t& held, size_t& crossed_at) {
  held = 0;
  crossed_at = 0;
  for (size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].crossed) {
      crossed_at = i + 1;
      return;
    }
    if (steps[i].lost == 0 && steps[i].duplicates == 0) held = steps[i].clients;
  }
}

}  // namespace

std::string ShootoutDriver::summary_text() const {
  char limit[32];
  std::snprintf(limit, sizeof limit, "%g", so_.limit_rtt_s * 1e3);
  std::string out = "  shootout       " + std::to_string(so_.concurrent) + " concurrent broadcasters, " +
                    std::to_string(so_.sample_size) + " broadcasts per step, limit " +
                    percentile_key(so_.limit_percentile) + " <= " + limit + " ms\n";
  for (size_t i = 0; i < steps_.size(); ++i) out += shootout_step_line(steps_[i], i + 1, so_);
  uint32_t held = 0;
  size_t crossed_at = 0;
  limit_figures(steps_, held, crossed_at);
  out += "  clients at limit " + std::to_string(held) + "  (" + outcome_ + ")\n";
  return out;
}

std::string ShootoutDriver::json_member() const {
  uint32_t held = 0;
  size_t crossed_at = 0;
  limit_figures(steps_, held, crossed_at);
  uint64_t broadcasts = 0, lost = 0, duplicates = 0;
  std::string steps;
  for (const ShootoutStep& s : steps_) {
    broadcasts += s.broadcasts;
    lost += s.lost;
    duplicates += s.duplicates;
    steps += (steps.empty() ? "" : ", ") + shootout_step_json(s, so_);
  }
  char limit[32];
  std::snprintf(limit, sizeof limit, "%g", so_.limit_rtt_s * 1e3);
  return "  \"shootout\": {\"format\": \"" + std::string(so_.format == ShootoutFormat::Binary ? "binary" : "json") +
         "\", \"concurrent\": " + std::to_string(so_.concurrent) + ", \"sample_size\": " +
         std::to_string(so_.sample_size) + ", \"step_size\": " + std::to_string(so_.step_size) +
         ", \"max_clients\": " + std::to_string(so_.max_clients) + ", \"limit_percentile\": " +
         percentile_key(so_.limit_percentile).substr(1) + ", \"limit_rtt_ms\": " + limit +
         ", \"steps\": [" + steps + "], \"clients_at_limit\": " + std::to_string(held) +
         ", \"limit_crossed\": " + (crossed_at ? "true" : "false") + ", \"crossed_at_step\": " +
         (crossed_at ? std::to_string(crossed_at) : "null") + ", \"broadcasts\": " + std::to_string(broadcasts) +
         ", \"lost\": " + std::to_string(lost) + ", \"duplicates\": " + std::to_string(duplicates) +
         ", \"completed\": " + (error_.empty() ? "true" : "false") + ", \"outcome\": \"" + escaped(outcome_) +
         "\"},\n";
}

}  // namespace wsring::load
