#include "server/push_app.hpp"

#include <time.h>

#include <algorithm>
#include <cmath>

namespace wsring::server {

namespace {

void store_le64(uint8_t* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out[i] = uint8_t(v >> (8 * i));
}

uint64_t realtime_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

}  // namespace

void write_push_header(uint8_t* out, uint64_t send_time_ns, uint64_t sequence) {
  store_le64(out, send_time_ns);
  store_le64(out + 8, sequence);
}

PushApp::PushApp(const Config& config)
    : per_connection_rate_(config.push_rate), total_rate_(config.push_total_rate), message_(config.push_size, 0) {}

void PushApp::on_open(Session& session) {
  const net::Token t = session.token();
  if (sequence_.size() <= t) sequence_.resize(size_t(t) + 1);
  sequence_[t] = 0;
  open_.add(t);
}

double PushApp::thread_rate() const {
  if (total_rate_ > 0) return total_rate_ / double(fanout_->thread_count());
  return per_connection_rate_ * double(open_.size());
}

// Round-robin over the connections: each gets the same share, whatever the tick length.
void PushApp::on_tick(uint64_t now_ms) {
  const uint64_t elapsed = last_tick_ms_ ? now_ms - last_tick_ms_ : 0;
  last_tick_ms_ = now_ms;
  if (open_.size() == 0) {
    owed_ = 0;
    return;
  }
  const double rate = thread_rate();
  // A stalled loop does not make up for lost time in one burst: at most half a second is owed.
  owed_ = std::min(owed_ + rate * double(elapsed) / 1000.0, std::max(rate * 0.5, 1.0));
  send_owed();
}

bool PushApp::send_owed() {
  const std::vector<net::Token>& tokens = open_.tokens();
  if (tokens.empty()) {
    owed_ = 0;
    return false;
  }
  const uint64_t n = std::min<uint64_t>(uint64_t(std::floor(owed_)), kMessagesPerTurn);
  if (n == 0) return false;
  owed_ -= double(n);
  const uint64_t now_ns = realtime_ns();
  for (uint64_t i = 0; i < n; ++i) {
    if (cursor_ >= tokens.size()) cursor_ = 0;
    const net::Token t = tokens[cursor_++];
    write_push_header(message_.data(), now_ns, sequence_[t]++);
    fanout_->send_to(t, core::Opcode::Binary, message_.data(), message_.size());
  }
  return owed_ >= 1;
}

}  // namespace wsring::server
