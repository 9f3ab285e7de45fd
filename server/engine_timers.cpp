// Timers: one wheel link per connection, set at state changes (never per message). When it
// fires, the connection's state says what was due: the handshake or close deadline of its
// state, a control frame left incomplete, a peer that drains too slowly, an idle peer, a ping.
#include <algorithm>

#include "core/close.hpp"
#include "server/engine.hpp"

namespace wsring::server {

void Engine::schedule_timer(Connection& c, uint64_t now_ms) {
  uint64_t deadline = UINT64_MAX;
  switch (c.state) {
    case ConnState::Handshaking:
    case ConnState::Responding:
    case ConnState::CloseSent:
    case ConnState::PeerDone:
    case ConnState::WriteShut:
      if (c.deadline_ms) deadline = c.deadline_ms;
      break;
    case ConnState::Open:
      // The next ping is due after one silent interval; a peer that stays silent for another
      // interval after our ping is gone.
      if (config_.ping_interval_s > 0)
        deadline = c.last_activity_ms + seconds_to_ms(config_.ping_interval_s) * (c.ping_outstanding ? 2 : 1);
      if (config_.idle_timeout_s > 0)
        deadline = std::min(deadline, c.last_activity_ms + seconds_to_ms(config_.idle_timeout_s));
      if (c.deadline_ms) deadline = std::min(deadline, c.deadline_ms);  // a control frame incomplete
      if (c.out && c.out->progress.window_start_ms)
        deadline = std::min(deadline, c.out->progress.window_start_ms + seconds_to_ms(config_.send_timeout_s));
      break;
    case ConnState::Free:
    case ConnState::ClosingFd:
      break;
  }
  if (deadline == UINT64_MAX)
    timers_.cancel(c.timer);
  else
    timers_.schedule(c.timer, std::max(deadline, now_ms));
}

// A peer whose output stalled must drain at least --min-send-rate bytes a second (and at least
// one byte) over every --send-timeout window, else it is dropped: a peer that never reads, or
// reads one byte a second of a large echo, cannot hold its output forever. False when closed.
bool Engine::check_send_progress(Connection& c, uint64_t now_ms) {
  if (!c.out || c.out->progress.window_start_ms == 0) return true;
  OutputQueue::Progress& p = c.out->progress;
  const uint64_t window_ms = seconds_to_ms(config_.send_timeout_s);
  if (now_ms < p.window_start_ms + window_ms) return true;
  const uint64_t needed = std::max<uint64_t>(1, uint64_t(double(config_.min_send_rate) * config_.send_timeout_s));
  if (p.window_sent >= needed) {
    p.window_start_ms = now_ms;
    p.window_sent = 0;
    return true;
  }
  ++stats_.send_timeouts;
  c.ended_by(EndReason::SendTimeout);
  if (log_.enabled(LogLevel::Debug))
    log_.debug("%s: send timeout, the peer drained %llu bytes in %.1f s", who(c.token).c_str(),
               static_cast<unsigned long long>(p.window_sent), config_.send_timeout_s);
  close_now(c, true);
  return false;
}

void Engine::on_timer(Connection& c, uint64_t now_ms) {
  switch (c.state) {
    case ConnState::Free:
    case ConnState::ClosingFd:
      return;
    case ConnState::Handshaking:
      ++(c.proxy_pending ? stats_.proxy_timeouts : stats_.handshake_timeouts);
      c.ended_by(EndReason::HandshakeTimeout);
      if (log_.enabled(LogLevel::Debug))
        log_.debug("%s: %s timeout", who(c.token).c_str(), c.proxy_pending ? "PROXY header" : "handshake");
      close_now(c, true);
      return;
    case ConnState::Responding:
    case ConnState::CloseSent:
    case ConnState::PeerDone:
    case ConnState::WriteShut:
      if (log_.enabled(LogLevel::Debug)) log_.debug("%s: close timeout", who(c.token).c_str());
      close_now(c, true);
      return;
    case ConnState::Open:
      break;
  }
  if (!check_send_progress(c, now_ms)) return;
  if (c.deadline_ms && now_ms >= c.deadline_ms && c.reader.control_partial()) {
    ++stats_.frame_timeouts;
    c.ended_by(EndReason::FrameTimeout);
    queue_close(c, core::close_code::policy_violation, "control frame incomplete (--frame-timeout)");
    flush(c);
    return;
  }
  const uint64_t silent = now_ms - std::min(now_ms, c.last_activity_ms);
  if (config_.idle_timeout_s > 0 && silent >= seconds_to_ms(config_.idle_timeout_s)) {
    ++stats_.idle_timeouts;
    c.ended_by(EndReason::IdleTimeout);
    queue_close(c, core::close_code::going_away, "idle timeout");
    flush(c);
    return;
  }
  if (config_.ping_interval_s > 0 && c.ping_outstanding && silent >= 2 * seconds_to_ms(config_.ping_interval_s)) {
    ++stats_.idle_timeouts;
    c.ended_by(EndReason::IdleTimeout);
    queue_close(c, core::close_code::going_away, "ping timeout");
    flush(c);
    return;
  }
  if (config_.ping_interval_s > 0 && !c.ping_outstanding && silent >= seconds_to_ms(config_.ping_interval_s)) {
    c.ping_outstanding = true;
    static const uint8_t kPingPayload[] = {'w', 's', 'r', 'i', 'n', 'g'};
    if (!queue_control(c, core::Opcode::Ping, kPingPayload, sizeof kPingPayload)) return;
    flush(c);
  }
  schedule_timer(c, now_ms);
}

}  // namespace wsring::server
