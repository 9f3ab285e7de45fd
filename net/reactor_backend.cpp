#include "net/reactor_backend.hpp"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>

#include "net/socket.hpp"

namespace wsring::net {

ReactorBackend::ReactorBackend(const ReactorOptions& options) : options_(options), now_ms_(monotonic_ms()) {
  wake_fd_ = eventfd(0, EFD_CLOEXEC);  // blocking: io_uring polls it; -1: wakes are seen at the next tick
}

ReactorBackend::~ReactorBackend() {
  sockets_.close_all();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

// The value is queued before the flag is raised: a receiver that clears the flag and then drains
// sees every value pushed before a sender found the flag raised (so that sender need not wake it).
bool ReactorBackend::post(Reactor& target, uint64_t value) {
  auto& t = static_cast<ReactorBackend&>(target);
  if (!t.mailbox_.push(value)) return false;
  if (!t.wake_pending_.exchange(true, std::memory_order_acq_rel)) wake(t);
  return true;
}

void ReactorBackend::wake(ReactorBackend& target) {
  if (target.wake_fd_ < 0) return;
  const uint64_t one = 1;
  ssize_t ignored = ::write(target.wake_fd_, &one, sizeof one);
  (void)ignored;
}

void ReactorBackend::take_wake() {
  uint64_t count = 0;
  ssize_t ignored = ::read(wake_fd_, &count, sizeof count);
  (void)ignored;
}

void ReactorBackend::deliver_messages() {
  if (!wake_pending_.exchange(false, std::memory_order_acq_rel)) return;
  uint64_t value = 0;
  while (mailbox_.pop(value)) handler_->on_message(value);
}

void ReactorBackend::drain_messages(EventHandler& handler) {
  wake_pending_.store(false, std::memory_order_relaxed);
  uint64_t value = 0;
  while (mailbox_.pop(value)) handler.on_message(value);
}

void ReactorBackend::listen(int listen_fd) {
  // Accepted sockets inherit TCP_NODELAY from their listener (Linux clones the listener's TCP
  // state): set once here, it saves a setsockopt, about 1 us, on every connection.
  set_tcp_nodelay(listen_fd);
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
  uint64_t now_us = monotonic_us();
  now_ms_ = now_us / 1000;
  uint64_t next_tick_us = now_us + uint64_t(options_.tick_ms) * 1000;
  bool work_left = false;  // the handler deferred work to the next turn: do not sleep
  while (!stop_requested_.load(std::memory_order_relaxed)) {
    const uint64_t wake_us = handler.wake_at_us();
    const uint64_t until_us = wake_us && wake_us < next_tick_us ? wake_us : next_tick_us;
    wait(!work_left && until_us > now_us ? until_us - now_us : 0);
    now_us = monotonic_us();
    now_ms_ = now_us / 1000;
    handle_events();
    if (wake_pending_.load(std::memory_order_relaxed)) deliver_messages();
    work_left = handler.on_turn_end();
    if (!starved_.empty() && buffers_left()) rearm_starved();
    const bool tick = now_us >= next_tick_us;
    if (tick) {
      next_tick_us = now_us + uint64_t(options_.tick_ms) * 1000;
      for (size_t i = 0; i < listen_fds_.size(); ++i)
        if (accept_due(i)) arm_accept(i);
    }
    if (tick || (wake_us && now_us >= wake_us)) handler.on_tick(now_ms_);
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
