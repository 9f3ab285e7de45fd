#include "server/connection_log.hpp"

#include <cmath>
#include <cstdio>

namespace wsring::server {

ConnectionLog::ConnectionLog(double fraction) {
  if (fraction > 0) every_ = std::max<uint64_t>(1, uint64_t(std::llround(1.0 / fraction)));
}

bool ConnectionLog::open(net::Token token, uint64_t now_ms) {
  if (every_ == 0 || seen_++ % every_ != 0) return false;
  Figures& f = table_[token];
  f = Figures{};
  f.opened_ms = now_ms;
  return true;
}

void ConnectionLog::tick(uint64_t now_ms, const Logger& log) {
  if (now_ms < window_start_ms_ + 1000) return;
  if (suppressed_ > 0)
    log.event(LogLevel::Info, "connection log: lines suppressed (over 100 a second)",
              {{"suppressed", DecimalField(suppressed_), true}});
  window_start_ms_ = now_ms;
  lines_in_window_ = 0;
  suppressed_ = 0;
}

void ConnectionLog::close(net::Token token, const char* reason, uint64_t now_ms, const Logger& log) {
  const auto it = table_.find(token);
  if (it == table_.end()) return;
  const Figures f = std::move(it->second);
  table_.erase(it);
  tick(now_ms, log);
  if (lines_in_window_ >= kMaxLinesPerSecond) {
    ++suppressed_;
    return;
  }
  ++lines_in_window_;
  char duration[32];
  std::snprintf(duration, sizeof duration, "%.3f", double(now_ms - f.opened_ms) / 1000.0);
  using n = DecimalField;
  log.event(LogLevel::Info, "connection closed",
            {{"peer", f.peer},
             {"duration_s", duration, true},
             {"messages_in", n(f.messages_in), true},
             {"messages_out", n(f.messages_out), true},
             {"bytes_in", n(f.bytes_in), true},
             {"bytes_out", n(f.bytes_out), true},
             {"close_sent", n(f.close_sent), true},
             {"close_received", n(f.close_received), true},
             {"reason", reason}});
}

}  // namespace wsring::server
