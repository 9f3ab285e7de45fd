// --connection-log: a sample of connections is logged when they close (peer, duration, messages
// and bytes each way, close codes sent and received). The figures of sampled connections live in
// this side table, keyed by token, so the connection record does not grow; a connection carries
// only its `sampled` bit. At most kMaxLinesPerSecond lines a second per thread; the rest are
// counted and reported in a "suppressed N" line.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "net/reactor.hpp"
#include "server/log.hpp"

namespace wsring::server {

class ConnectionLog {
 public:
  static constexpr uint64_t kMaxLinesPerSecond = 100;

  struct Figures {
    uint64_t opened_ms = 0;
    uint64_t messages_in = 0, messages_out = 0;
    uint64_t bytes_in = 0, bytes_out = 0;
    uint16_t close_sent = 0, close_received = 0;  // 0: none
    std::string peer;  // taken at open: the socket is gone by the time the line is written
  };

  // `fraction` of connections are sampled (0: none, 1: all), one in round(1 / fraction).
  explicit ConnectionLog(double fraction);
  bool enabled() const { return every_ != 0; }

  // A new connection: true when it is sampled (its figures are kept from now on). May throw
  // std::bad_alloc (the caller fails that connection, as for any allocation at accept).
  bool open(net::Token token, uint64_t now_ms);
  // Called every tick: reports the lines suppressed in a window that has ended.
  void tick(uint64_t now_ms, const Logger& log);
  Figures& figures(net::Token token) { return table_[token]; }
  // The sampled connection closed: its line (or its share of a "suppressed" count).
  void close(net::Token token, const char* reason, uint64_t now_ms, const Logger& log);
  size_t sampled_now() const { return table_.size(); }

 private:
  uint64_t every_ = 0;  // sample one connection in every_ (0: none)
  uint64_t seen_ = 0;
  std::unordered_map<net::Token, Figures> table_;
  uint64_t window_start_ms_ = 0;
  uint64_t lines_in_window_ = 0;
  uint64_t suppressed_ = 0;
};

}  // namespace wsring::server
