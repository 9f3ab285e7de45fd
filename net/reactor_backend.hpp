// ReactorBackend: what the io_uring and epoll reactors share, written once. The socket table
// and the receive-buffer slab, the loop (cached clock, ticks, stop flag), the starved list,
// the accept back-off and the close bookkeeping. A backend supplies how to wait for events
// and handle them, how to watch the listener, how to read a socket again and how to close
// one. Internal to net/.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "net/mailbox.hpp"
#include "net/reactor_state.hpp"

namespace wsring::net {

class ReactorBackend : public Reactor {
 public:
  ~ReactorBackend() override;  // closes the sockets still owned (after the backend's teardown)

  void listen(int listen_fd) final;
  void stop_accepting() final;
  void shutdown_write(Token token) final;
  // Marks the socket closing (SO_LINGER 0 first if reset), then the backend cancels what is
  // armed and closes the fd once nothing is outstanding; deliver_closed() ends it.
  void close(Token token, bool reset) final;
  void run(EventHandler& handler) final;
  void stop() final { stop_requested_.store(true, std::memory_order_relaxed); }
  uint64_t now_ms() const final { return now_ms_; }
  uint32_t buffers_in_use() const final { return buffers_out_; }
  uint64_t buffer_starvations() const final { return starvations_; }
  int socket_of(Token token) const final {
    const SocketSlot* s = sockets_.find(token);
    return s && (s->flags & kOpen) ? s->fd : -1;
  }
  bool post(Reactor& target, uint64_t value) final;
  void drain_messages(EventHandler& handler) final;
  virtual int ring_fd() const { return -1; }  // io_uring: the ring's fd, for MSG_RING wakes

 protected:
  static constexpr uint64_t kAcceptBackoffMs = 100;

  explicit ReactorBackend(const ReactorOptions& options);
  bool map_buffers(std::string* error) {
    return slab_.map(options_.recv_buffer_size, options_.recv_buffer_count, error);
  }

  // The backend's part of the loop: wait up to timeout_us for events (less if it has work
  // left over), then handle what arrived (now_ms_ has been read in between).
  virtual void wait(uint64_t timeout_us) = 0;
  virtual void handle_events() = 0;
  // Start / stop watching listener i (listen_fds_[i]); accept_armed_[i] says whether it is watched.
  virtual void arm_accept(size_t i) = 0;
  virtual void disarm_accept(size_t i) = 0;
  // close(): cancel what is armed on the socket and close the fd once nothing is outstanding.
  virtual void close_socket(Token token, SocketSlot& s) = 0;
  // Buffers came back: read a starved socket again.
  virtual void rearm_recv(Token token, SocketSlot& s) = 0;

  // Cross-thread messages. Every reactor has a mailbox and an eventfd; wake() tells `target`
  // that its mailbox has values (the io_uring backend sends a MSG_RING to target's ring when
  // both are io_uring, else writes target's eventfd). A backend watches its own wake_fd_ and
  // calls take_wake() when it fires; run() drains the mailbox every turn a wake is pending.
  static constexpr size_t kMailboxCapacity = 16384;
  virtual void wake(ReactorBackend& target);
  void take_wake();
  int wake_fd_ = -1;

  // Called when a socket is opened, before its slot is used: the starved list (each socket at
  // most once) never has to grow inside the event loop, where a failed allocation could not be
  // answered by failing one connection. Throws std::bad_alloc to the caller of open().
  void reserve_socket(Token token) {
    if (starved_.capacity() <= token) starved_.reserve(size_t(token) * 2 + 64);
  }

  void mark_starved(Token token, SocketSlot& s) {
    if (s.flags & kRecvStarved) return;
    s.flags |= kRecvStarved;
    starved_.push_back(token);
    ++starvations_;
  }
  bool buffers_left() const { return buffers_out_ < slab_.count(); }
  // Out of descriptors or memory while accepting: keep serving what we have and try again
  // later, rather than spin on an error the kernel will repeat.
  void back_off_accept() {
    accept_retry_ms_ = now_ms_ + kAcceptBackoffMs;
    for (size_t i = 0; i < listen_fds_.size(); ++i)
      if (accept_armed_[i]) disarm_accept(i);
  }
  bool accept_due(size_t i) const { return accepting_ && !accept_armed_[i] && now_ms_ >= accept_retry_ms_; }
  // The fd is closed and nothing is outstanding: the token is free again.
  void deliver_closed(Token token) {
    sockets_[token] = SocketSlot{};
    handler_->on_closed(token);
  }

  ReactorOptions options_;
  RecvBufferSlab slab_;
  SocketTable sockets_;
  EventHandler* handler_ = nullptr;
  uint32_t buffers_out_ = 0;  // buffers taken from the slab and not given back yet
  uint64_t now_ms_;  // read once per loop turn (run), so the hot path reads no clock
  std::vector<int> listen_fds_;       // every listener listen() was given, in order
  std::vector<uint8_t> accept_armed_;  // per listener
  bool accepting_ = false;

 private:
  void rearm_starved();

  void deliver_messages();

  std::vector<Token> starved_;
  uint64_t accept_retry_ms_ = 0;
  uint64_t starvations_ = 0;
  Mailbox mailbox_{kMailboxCapacity};
  std::atomic<bool> wake_pending_{false};  // a sender queued values since the last drain
  std::atomic<bool> stop_requested_{false};
};

}  // namespace wsring::net
