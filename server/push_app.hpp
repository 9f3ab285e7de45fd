// --mode push: every connection receives binary messages of --push-size bytes at --push-rate per
// second (or --push-total-rate spread evenly over all connections). Each message carries its
// send time and a sequence number, so a receiver measures delivery latency, loss and order:
//   bytes 0-7   send time: uint64 little-endian, nanoseconds since the Unix epoch (CLOCK_REALTIME)
//   bytes 8-15  sequence number: uint64 little-endian, per connection, from 0
//   bytes 16-   filler (zero bytes) up to --push-size
// A slow receiver's skipped messages still use up their sequence numbers: the gap is the loss.
// Messages the clients send are ignored.
#pragma once

#include <cstdint>
#include <vector>

#include "server/app_support.hpp"
#include "server/application.hpp"
#include "server/config.hpp"
#include "server/fanout.hpp"

namespace wsring::server {

// Writes the header of a push message (bytes 0-15) into `out`.
void write_push_header(uint8_t* out, uint64_t send_time_ns, uint64_t sequence);

class PushApp final : public Application {
 public:
  explicit PushApp(const Config& config);
  const char* name() const override { return "push"; }
  void attach(Fanout& fanout) override { fanout_ = &fanout; }
  void on_open(Session& session) override;
  void on_close(net::Token token) override { open_.remove(token); }
  void on_data(Session&, const core::ReadEvent&) override {}
  void on_tick(uint64_t now_ms) override;
  bool on_turn_end() override { return owed_ >= 1 && send_owed(); }

  // Messages sent per loop turn at most: what a tick owes beyond it goes out in the next turns,
  // after their receives and accepts, so a loaded loop still answers handshakes and closes.
  static constexpr uint64_t kMessagesPerTurn = 512;

 private:
  // Messages per second this thread owes its connections now.
  double thread_rate() const;
  // Sends up to kMessagesPerTurn of the messages owed; true when more are owed.
  bool send_owed();

  Fanout* fanout_ = nullptr;
  const double per_connection_rate_;
  const double total_rate_;
  ConnectionSet open_;
  std::vector<uint64_t> sequence_;  // by token: the next sequence number
  std::vector<uint8_t> message_;    // --push-size bytes, the filler zero
  uint64_t last_tick_ms_ = 0;
  double owed_ = 0;    // messages due and not sent yet (fractional)
  size_t cursor_ = 0;  // round-robin position in open_
};

}  // namespace wsring::server
