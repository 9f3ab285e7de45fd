#include "net/reactor_backend.hpp"

#include <sys/socket.h>

#include "net/socket.hpp"

namespace wsring::net {

ReactorBackend::ReactorBackend(const ReactorOptions& options) : options_(options), now_ms_(monotonic_ms()) {}

ReactorBackend::~ReactorBackend() { sockets_.close_all(); }

void ReactorBackend::listen(int listen_fd) {
  listen_fds_.push_back(listen_fd);
  accept_armed_.push_back(0);
  accepting_ = true;
  arm_accept(listen_fds_.size() - 1);
}

void ReactorBackend::stop_accepting() {
  if (!accepting_) return;
  accepting_ = false;
  for (size_t i = 0; i < listen_fds_.size(); ++i)
    if (accept_armed_[i]) disarm_accept(i);
}

void ReactorBackend::shutdown_write(Token token) { ::shutdown(sockets_[token].fd, SHUT_WR); }

void ReactorBackend::close(Token token, bool reset) {
  SocketSlot& s = sockets_[token];
  if (s.flags & kClosing) return;
  if (reset) {
    linger l{1, 0};
    setsockopt(s.fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  s.flags |= kClosing;
  s.flags &= uint16_t(~kRecvStarved);  // its entry on the starved list is skipped
  close_socket(token, s);
}

void ReactorBackend::run(EventHandler& handler) {
  handler_ = &handler;
  now_ms_ = monotonic_ms();
  uint64_t next_tick = now_ms_ + options_.tick_ms;
  bool work_left = false;  // the handler deferred work to the next turn: do not sleep
  while (!stop_requested_.load(std::memory_order_relaxed)) {
    wait(!work_left && next_tick > now_ms_ ? next_tick - now_ms_ : 0);
    now_ms_ = monotonic_ms();
    handle_events();
    work_left = handler.on_turn_end();
    if (!starved_.empty() && buffers_left()) rearm_starved();
    if (now_ms_ >= next_tick) {
      next_tick = now_ms_ + options_.tick_ms;
      for (size_t i = 0; i < listen_fds_.size(); ++i)
        if (accept_due(i)) arm_accept(i);
      handler.on_tick(now_ms_);
    }
  }
}

void ReactorBackend::rearm_starved() {
  while (!starved_.empty() && buffers_left()) {
    const Token t = starved_.back();
    starved_.pop_back();
    SocketSlot& s = sockets_[t];
    if (!(s.flags & kRecvStarved)) continue;  // closed, or paused, since
    s.flags &= uint16_t(~kRecvStarved);
    rearm_recv(t, s);
  }
}

}  // namespace wsring::net
