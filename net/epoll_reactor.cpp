// epoll backend: the fallback where io_uring is missing or blocked (seccomp profiles,
// kernel.io_uring_disabled). Level-triggered, non-blocking sockets, one recv per readiness
// event so that one busy socket cannot starve the others. It lends receive buffers from a
// slab exactly like the io_uring backend, so the layers above cannot tell the two apart.
// Completions of sends that finish at once are queued and delivered after the current
// event, never from inside the caller's send(): no re-entrancy.
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <vector>

#include "net/reactor_state.hpp"
#include "net/socket.hpp"

namespace wsring::net {
namespace {

constexpr uint64_t kListenerKey = ~uint64_t{0};

struct PendingSend {
  const iovec* iov = nullptr;
  int count = 0;
};

struct Completion {
  enum Kind : uint8_t { Send, Connect, Closed } kind;
  Token token;
  int result;
};

class EpollReactor final : public Reactor {
 public:
  explicit EpollReactor(const ReactorOptions& options) : options_(options), slab_(options.recv_buffer_size, options.recv_buffer_count) {
    free_buffers_.reserve(slab_.count());
    for (uint32_t i = slab_.count(); i > 0; --i) free_buffers_.push_back(uint16_t(i - 1));
  }
  ~EpollReactor() override {
    sockets_.close_all();
    if (epfd_ >= 0) ::close(epfd_);
  }

  bool init(std::string* error) {
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) {
      *error = std::string("epoll_create1: ") + strerror(errno);
      return false;
    }
    return true;
  }

  const char* name() const override { return "epoll"; }

  void listen(int listen_fd) override {
    listen_fd_ = listen_fd;
    accepting_ = true;
    set_listener(true);
  }

  void stop_accepting() override {
    accepting_ = false;
    set_listener(false);
  }

  void open(Token token, int fd) override {
    // What may allocate comes first, so that running out of memory here leaves nothing half
    // registered (the caller closes the socket); and starved_ gets room for this socket now, so
    // that the event loop, where std::bad_alloc would end the process, never grows it.
    if (starved_.capacity() <= token) starved_.reserve(2 * (size_t(token) + 512));
    pending(token) = {};
    SocketSlot& s = sockets_[token];
    s.fd = fd;
    s.flags = kOpen | kRecvArmed;
    s.extra = 0;
    epoll_event ev{};
    ev.data.u64 = token;
    ev.events = EPOLLIN;
    epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev);
  }

  void connect(Token token, int fd, const sockaddr* addr, socklen_t len) override {
    SocketSlot& s = sockets_[token];
    s.fd = fd;
    s.flags = kOpen | kConnecting;
    s.extra = 0;
    pending(token) = {};
    int fl = fcntl(fd, F_GETFL);
    if (!(fl & O_NONBLOCK)) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    epoll_event ev{};
    ev.data.u64 = token;
    ev.events = EPOLLOUT;
    epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev);
    if (::connect(fd, addr, len) == 0) {
      finish_connect(token, 0);
    } else if (errno != EINPROGRESS) {
      finish_connect(token, -errno);
    }
  }

  void pause_recv(Token token) override {
    SocketSlot& s = sockets_[token];
    if (s.flags & kRecvPaused) return;
    s.flags |= kRecvPaused;
    update_events(token, s);
  }

  void resume_recv(Token token) override {
    SocketSlot& s = sockets_[token];
    if (!(s.flags & kRecvPaused)) return;
    s.flags &= ~uint32_t(kRecvPaused);
    update_events(token, s);
  }

  void send(Token token, const iovec* iov, int iov_count) override {
    SocketSlot& s = sockets_[token];
    if (s.flags & kClosing) return;  // after close() nothing but on_closed is delivered
    s.flags |= kSendInFlight;
    pending(token) = {iov, iov_count};
    if (s.flags & kWaitWritable) {  // the last send found the socket full: wait for room
      update_events(token, s);
      return;
    }
    int r = try_send(s.fd, iov, iov_count);
    pending(token).iov = nullptr;
    if (r == -EAGAIN) s.flags |= kWaitWritable;
    completions_.push_back({Completion::Send, token, r});
  }

  void release_buffer(uint16_t id) override {
    free_buffers_.push_back(id);
    if (!starved_.empty()) wake_starved_ = true;
  }

  void shutdown_write(Token token) override { ::shutdown(sockets_[token].fd, SHUT_WR); }

  void close(Token token, bool reset) override {
    SocketSlot& s = sockets_[token];
    if (s.flags & kClosing) return;
    if (reset) {
      linger l{1, 0};
      setsockopt(s.fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    s.flags |= kClosing;
    if (!(s.flags & kDetached)) epoll_ctl(epfd_, EPOLL_CTL_DEL, s.fd, nullptr);
    ::close(s.fd);
    completions_.push_back({Completion::Closed, token, 0});
  }

  void run(EventHandler& handler) override {
    handler_ = &handler;
    std::vector<epoll_event> events(512);
    uint64_t next_tick = monotonic_ms() + options_.tick_ms;
    while (!stop_requested_.load(std::memory_order_relaxed)) {
      deliver_completions();
      if (wake_starved_) rearm_starved();
      int timeout = completions_.empty() ? int(options_.tick_ms) : 0;
      int n = epoll_wait(epfd_, events.data(), int(events.size()), timeout);
      now_ms_ = monotonic_ms();
      for (int i = 0; i < n; ++i) {
        const uint64_t key = events[i].data.u64;
        if (key == kListenerKey) {
          accept_some();
          continue;
        }
        const Token token = Token(key);
        SocketSlot& s = sockets_[token];
        if (s.flags & kClosing) continue;
        const uint32_t ev = events[i].events;
        if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
          if (s.flags & kConnecting) {
            int err = 0;
            socklen_t len = sizeof err;
            getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
            finish_connect(token, -err);
            continue;
          }
          if ((s.flags & kSendInFlight) && pending(token).iov) {
            int r = try_send(s.fd, pending(token).iov, pending(token).count);
            if (r != -EAGAIN) {
              pending(token).iov = nullptr;  // done: stop asking for EPOLLOUT
              s.flags &= ~uint32_t(kWaitWritable);
              update_events(token, s);
              completions_.push_back({Completion::Send, token, r});
            }
          }
        }
        if ((ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) && wants_read(s)) {
          read_once(token, s);
        } else if ((ev & (EPOLLERR | EPOLLHUP)) && !(s.flags & kSendInFlight)) {
          // Hang-ups are reported even when we asked for nothing; a paused socket would
          // spin. Detach it until the handler wants it again.
          epoll_ctl(epfd_, EPOLL_CTL_DEL, s.fd, nullptr);
          s.flags |= kDetached;
        }
      }
      const uint64_t now = now_ms_;
      if (now >= next_tick) {
        next_tick = now + options_.tick_ms;
        if (accepting_ && !listener_armed_ && now >= accept_retry_ms_) set_listener(true);
        handler.on_tick(now);
      }
    }
  }

  void stop() override { stop_requested_.store(true, std::memory_order_relaxed); }

  uint64_t now_ms() const override { return now_ms_; }

  uint32_t buffers_in_use() const override { return slab_.count() - uint32_t(free_buffers_.size()); }

 private:
  PendingSend& pending(Token token) {
    if (token >= pending_.size()) pending_.resize(token < 1024 ? 1024 : size_t(token) * 2);
    return pending_[token];
  }

  static int try_send(int fd, const iovec* iov, int count) {
    msghdr m{};
    m.msg_iov = const_cast<iovec*>(iov);
    m.msg_iovlen = size_t(count);
    ssize_t r = ::sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (r >= 0) return int(r);
    return errno == EWOULDBLOCK ? -EAGAIN : -errno;
  }

  static bool wants_read(const SocketSlot& s) {
    return (s.flags & kRecvArmed) && !(s.flags & (kRecvPaused | kRecvEnded | kRecvStarved | kClosing));
  }

  void update_events(Token token, SocketSlot& s) {
    if (s.flags & kClosing) return;
    int op = EPOLL_CTL_MOD;
    if (s.flags & kDetached) {
      s.flags &= ~uint32_t(kDetached);
      op = EPOLL_CTL_ADD;
    }
    epoll_event ev{};
    ev.data.u64 = token;
    if (wants_read(s)) ev.events |= EPOLLIN;
    if ((s.flags & kConnecting) || ((s.flags & kSendInFlight) && pending(token).iov)) ev.events |= EPOLLOUT;
    epoll_ctl(epfd_, op, s.fd, &ev);
  }

  void set_listener(bool on) {
    if (listen_fd_ < 0 || on == listener_armed_) return;
    epoll_event ev{};
    ev.data.u64 = kListenerKey;
    ev.events = EPOLLIN;
    epoll_ctl(epfd_, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, listen_fd_, &ev);
    listener_armed_ = on;
  }

  void accept_some() {
    for (int i = 0; i < 64; ++i) {
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd >= 0) {
        set_tcp_nodelay(fd);
        handler_->on_accept(fd);
        continue;
      }
      if (errno == EMFILE || errno == ENFILE || errno == ENOMEM || errno == ENOBUFS) {
        // Out of descriptors: stop watching the listener for a while instead of spinning.
        set_listener(false);
        accept_retry_ms_ = now_ms_ + 100;
      }
      return;
    }
  }

  void finish_connect(Token token, int result) {
    SocketSlot& s = sockets_[token];
    s.flags &= ~uint32_t(kConnecting);
    if (result == 0) {
      set_tcp_nodelay(s.fd);
      s.flags |= kRecvArmed;
    }
    update_events(token, s);
    completions_.push_back({Completion::Connect, token, result});
  }

  void read_once(Token token, SocketSlot& s) {
    if (free_buffers_.empty()) {
      s.flags |= kRecvStarved;
      starved_.push_back(token);
      update_events(token, s);
      return;
    }
    uint16_t id = free_buffers_.back();
    free_buffers_.pop_back();
    ssize_t n = ::recv(s.fd, slab_.data(id), slab_.capacity(), 0);
    if (n > 0) {
      RecvBuffer b{slab_.data(id), size_t(n), slab_.capacity(), id};
      handler_->on_recv(token, b);
      return;
    }
    free_buffers_.push_back(id);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    s.flags |= kRecvEnded;
    update_events(token, s);
    handler_->on_recv_end(token, n == 0 ? 0 : -errno);
  }

  void rearm_starved() {
    wake_starved_ = false;
    while (!starved_.empty() && !free_buffers_.empty()) {
      Token t = starved_.back();
      starved_.pop_back();
      SocketSlot& s = sockets_[t];
      if (!(s.flags & kRecvStarved)) continue;
      s.flags &= ~uint32_t(kRecvStarved);
      update_events(t, s);
    }
  }

  void deliver_completions() {
    // Handlers may queue more completions while we deliver: index, don't iterate.
    for (size_t i = 0; i < completions_.size(); ++i) {
      const Completion c = completions_[i];
      SocketSlot& s = sockets_[c.token];
      switch (c.kind) {
        case Completion::Send:
          if (s.flags & kClosing) break;
          s.flags &= ~uint32_t(kSendInFlight);
          pending(c.token).iov = nullptr;
          handler_->on_send(c.token, c.result);
          break;
        case Completion::Connect:
          if (!(s.flags & kClosing)) handler_->on_connect(c.token, c.result);
          break;
        case Completion::Closed:
          s = SocketSlot{};
          pending(c.token) = {};
          handler_->on_closed(c.token);
          break;
      }
    }
    completions_.clear();
  }

  ReactorOptions options_;
  RecvBufferSlab slab_;
  int epfd_ = -1;
  SocketTable sockets_;
  std::vector<PendingSend> pending_;
  std::vector<uint16_t> free_buffers_;
  std::vector<Token> starved_;
  std::vector<Completion> completions_;
  bool wake_starved_ = false;
  EventHandler* handler_ = nullptr;
  int listen_fd_ = -1;
  bool accepting_ = false;
  bool listener_armed_ = false;
  uint64_t accept_retry_ms_ = 0;
  std::atomic<bool> stop_requested_{false};
  uint64_t now_ms_ = monotonic_ms();
};

}  // namespace

std::unique_ptr<Reactor> make_epoll_reactor(const ReactorOptions& options, std::string* error) {
  auto r = std::make_unique<EpollReactor>(options);
  if (!r->init(error)) return nullptr;
  return r;
}

const char* backend_name(Backend backend) {
  switch (backend) {
    case Backend::Auto: return "auto";
    case Backend::IoUring: return "io_uring";
    case Backend::Epoll: return "epoll";
  }
  return "?";
}

std::unique_ptr<Reactor> make_reactor(Backend backend, const ReactorOptions& options, std::string* why) {
  std::string error;
  if (backend == Backend::Epoll) {
    *why = "requested";
    auto r = make_epoll_reactor(options, &error);
    if (!r) *why = error;
    return r;
  }
  auto r = make_uring_reactor(options, &error);
  if (r) {
    *why = backend == Backend::Auto ? "auto: io_uring works here" : "requested";
    return r;
  }
  if (backend == Backend::IoUring) {
    *why = error;
    return nullptr;
  }
  auto e = make_epoll_reactor(options, why);
  if (e) *why = "auto: io_uring unavailable: " + error;
  return e;
}

}  // namespace wsring::net
