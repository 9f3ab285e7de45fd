// epoll backend: the fallback where io_uring is missing or blocked (seccomp profiles,
// kernel.io_uring_disabled). Level-triggered, non-blocking sockets, one recv per readiness
// event so that one busy socket cannot starve the others (a socket is handed at most one
// buffer per loop turn). It lends receive buffers from a slab exactly like the io_uring
// backend, so the layers above cannot tell the two apart. Completions of sends that finish at
// once are queued and delivered after the current event, never from inside the caller's
// send(): no re-entrancy. A socket epoll refuses (epoll_ctl fails) is failed like a broken
// one: its pending send and its reading end with the error.
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <vector>

#include "net/reactor_backend.hpp"
#include "net/socket.hpp"

namespace wsring::net {
namespace {

constexpr uint64_t kListenerKey = uint64_t{1} << 40;  // + the listener's index (tokens are 32-bit)
constexpr uint64_t kWakeKey = uint64_t{1} << 39;      // the reactor's wake eventfd (cross-thread messages)

// This backend's own socket flags (SocketSlot::flags, above the shared ones).
constexpr uint16_t kWatched = kFirstBackendFlag << 0;   // in the interest list
constexpr uint16_t kOutArmed = kFirstBackendFlag << 1;  // EPOLLOUT is in the interest list (kRecvArmed: EPOLLIN)

struct PendingSend {
  const iovec* iov = nullptr;  // set while a send waits for the socket to become writable
  int count = 0;
};

struct Completion {
  enum Kind : uint8_t { Send, Connect, RecvEnd, Closed } kind;
  Token token;
  int result;
};

class EpollReactor final : public ReactorBackend {
 public:
  explicit EpollReactor(const ReactorOptions& options) : ReactorBackend(options), events_(512) {}
  ~EpollReactor() override {
    if (epfd_ >= 0) ::close(epfd_);
  }

  bool init(std::string* error) {
    if (!map_buffers(error)) return false;
    free_buffers_.reserve(slab_.count());
    for (uint32_t i = slab_.count(); i > 0; --i) free_buffers_.push_back(uint16_t(i - 1));
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) {
      *error = std::string("cannot create an epoll instance: ") + strerror(errno);
      return false;
    }
    if (wake_fd_ >= 0) {
      epoll_event ev{};
      ev.data.u64 = kWakeKey;
      ev.events = EPOLLIN;
      (void)epoll_ctl(epfd_, EPOLL_CTL_ADD, wake_fd_, &ev);  // refused: wakes are seen at the next tick
    }
    return true;
  }

  const char* name() const override { return "epoll"; }

  void open(Token token, int fd) override {
    reserve_socket(token);
    reserve_completions(token);
    SocketSlot& s = sockets_[token];
    s = SocketSlot{};
    s.fd = fd;
    s.flags = kOpen;
    pending(token) = {};
    update_events(token, s);
  }

  void connect(Token token, int fd, const sockaddr* addr, socklen_t len) override {
    reserve_socket(token);
    reserve_completions(token);
    SocketSlot& s = sockets_[token];
    s = SocketSlot{};
    s.fd = fd;
    s.flags = kOpen | kConnecting;
    pending(token) = {};
    const int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && !(fl & O_NONBLOCK)) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    if (::connect(fd, addr, len) == 0) {
      finish_connect(token, s, 0);
    } else if (errno != EINPROGRESS) {
      finish_connect(token, s, -errno);
    } else {
      update_events(token, s);  // EPOLLOUT says when it is done (a refusal fails the connect)
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
    s.flags &= uint16_t(~kRecvPaused);
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
    const int r = try_send(s.fd, iov, iov_count);
    pending(token).iov = nullptr;
    if (r == -EAGAIN) s.flags |= kWaitWritable;
    completions_.push_back({Completion::Send, token, r});
  }

  void release_buffer(uint16_t id) override {
    free_buffers_.push_back(id);
    --buffers_out_;
  }

 private:
  PendingSend& pending(Token token) {
    if (token >= pending_.size()) pending_.resize(token < 1024 ? 1024 : size_t(token) * 2);
    return pending_[token];
  }

  static int try_send(int fd, const iovec* iov, int count) {
    msghdr m{};
    m.msg_iov = const_cast<iovec*>(iov);
    m.msg_iovlen = size_t(count);
    const ssize_t r = ::sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (r >= 0) return int(r);
    return errno == EWOULDBLOCK ? -EAGAIN : -errno;
  }

  static bool wants_read(const SocketSlot& s) {
    return (s.flags & kOpen) && !(s.flags & (kConnecting | kRecvPaused | kRecvEnded | kRecvStarved | kClosing));
  }

  // Brings the interest list in line with what the socket wants now.
  void update_events(Token token, SocketSlot& s) {
    if (s.flags & kClosing) return;
    uint32_t events = 0;
    if (wants_read(s)) events |= EPOLLIN;
    if ((s.flags & kConnecting) || ((s.flags & kSendInFlight) && pending(token).iov)) events |= EPOLLOUT;
    const uint32_t watched = ((s.flags & kRecvArmed) ? uint32_t(EPOLLIN) : 0u) |
                             ((s.flags & kOutArmed) ? uint32_t(EPOLLOUT) : 0u);
    if ((s.flags & kWatched) ? events == watched : events == 0) return;  // nothing to change
    epoll_event ev{};
    ev.data.u64 = token;
    ev.events = events;
    if (epoll_ctl(epfd_, (s.flags & kWatched) ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s.fd, &ev) != 0) {
      fail_socket(token, s, -errno);
      return;
    }
    s.flags = uint16_t((s.flags & ~(kRecvArmed | kOutArmed)) | kWatched | ((events & EPOLLIN) ? kRecvArmed : 0) |
                       ((events & EPOLLOUT) ? kOutArmed : 0));
  }

  // Out of the interest list. DEL fails only if the fd is not there (ENOENT) or is no longer
  // open (EBADF): either way it is not watched any more.
  void unwatch(SocketSlot& s) {
    if (!(s.flags & kWatched)) return;
    (void)epoll_ctl(epfd_, EPOLL_CTL_DEL, s.fd, nullptr);
    s.flags &= uint16_t(~(kWatched | kRecvArmed | kOutArmed));
  }

  // epoll_ctl refused the socket (ENOMEM, ENOSPC: fs.epoll.max_user_watches, EPERM: not
  // pollable): it cannot be served. A connect fails with the error; otherwise the pending send
  // and the reading end with it, delivered after the current event (the handler then closes).
  void fail_socket(Token token, SocketSlot& s, int error) {
    const uint16_t was = s.flags;
    unwatch(s);
    s.flags |= kRecvEnded;
    if (was & kConnecting) {
      s.flags &= uint16_t(~kConnecting);
      completions_.push_back({Completion::Connect, token, error});
      return;
    }
    if ((was & kSendInFlight) && pending(token).iov) {
      pending(token).iov = nullptr;
      completions_.push_back({Completion::Send, token, error});
    }
    if (!(was & kRecvEnded)) completions_.push_back({Completion::RecvEnd, token, error});
  }

  void arm_accept(size_t i) override {
    epoll_event ev{};
    ev.data.u64 = kListenerKey + i;
    ev.events = EPOLLIN;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, listen_fds_[i], &ev) == 0) {
      accept_armed_[i] = 1;
      return;
    }
    back_off_accept();  // ENOMEM or ENOSPC: try again after the back-off
  }

  void disarm_accept(size_t i) override {
    (void)epoll_ctl(epfd_, EPOLL_CTL_DEL, listen_fds_[i], nullptr);  // fails only if not watched (see unwatch)
    accept_armed_[i] = 0;
  }

  void rearm_recv(Token token, SocketSlot& s) override { update_events(token, s); }

  void close_socket(Token token, SocketSlot& s) override {
    unwatch(s);
    ::close(s.fd);
    s.flags |= kCloseSubmitted;
    completions_.push_back({Completion::Closed, token, 0});
  }

  // --- the loop (ReactorBackend::run)

  void wait(uint64_t timeout_us) override {
    deliver_completions();
    if (!completions_.empty()) timeout_us = 0;
    // epoll_pwait2 (Linux 5.11) waits to the microsecond; epoll_wait only to the millisecond
    // (rounded up, so that a wake-up is never early).
    const timespec timeout{time_t(timeout_us / 1000000), long(timeout_us % 1000000) * 1000};
    if (pwait2_) {
      ready_ = epoll_pwait2(epfd_, events_.data(), int(events_.size()), &timeout, nullptr);
      if (ready_ < 0 && errno == ENOSYS) pwait2_ = false;
    }
    if (!pwait2_) {
      const uint64_t ms = (timeout_us + 999) / 1000;
      ready_ = epoll_wait(epfd_, events_.data(), int(events_.size()), int(ms < INT_MAX ? ms : INT_MAX));
    }
    if (ready_ < 0) ready_ = 0;  // EINTR
  }

  void handle_events() override {
    for (int i = 0; i < ready_; ++i) {
      const uint64_t key = events_[size_t(i)].data.u64;
      if (key >= kListenerKey)
        accept_some(size_t(key - kListenerKey));
      else if (key == kWakeKey)
        take_wake();  // run() delivers the messages
      else
        on_socket_event(Token(key), events_[size_t(i)].events);
    }
    ready_ = 0;
  }

  void on_socket_event(Token token, uint32_t ev) {
    SocketSlot& s = sockets_[token];
    if (s.flags & kClosing) return;
    if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
      if (s.flags & kConnecting) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        finish_connect(token, s, -err);
        return;
      }
      if ((s.flags & kSendInFlight) && pending(token).iov) {
        const int r = try_send(s.fd, pending(token).iov, pending(token).count);
        if (r != -EAGAIN) {
          pending(token).iov = nullptr;  // done: stop asking for EPOLLOUT
          s.flags &= uint16_t(~kWaitWritable);
          completions_.push_back({Completion::Send, token, r});
          update_events(token, s);
        }
      }
    }
    if ((ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) && wants_read(s)) {
      read_once(token, s);
    } else if ((ev & (EPOLLERR | EPOLLHUP)) && !(s.flags & kSendInFlight)) {
      // Hang-ups are reported even when we asked for nothing; a paused socket would spin.
      // Unwatch it until the handler wants something again.
      unwatch(s);
    }
  }

  void accept_some(size_t listener) {
    if (listener >= listen_fds_.size()) return;
    for (int i = 0; i < 64 && accept_armed_[listener]; ++i) {
      const int fd = accept4(listen_fds_[listener], nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd >= 0) {
        handler_->on_accept(fd, listen_fds_[listener]);
        continue;
      }
      if (errno == EMFILE || errno == ENFILE || errno == ENOMEM || errno == ENOBUFS) back_off_accept();
      return;
    }
  }

  void finish_connect(Token token, SocketSlot& s, int result) {
    s.flags &= uint16_t(~kConnecting);
    if (result == 0)
      set_tcp_nodelay(s.fd);
    else
      s.flags |= kRecvEnded;
    completions_.push_back({Completion::Connect, token, result});  // before a failure of the next line
    update_events(token, s);
  }

  void read_once(Token token, SocketSlot& s) {
    if (free_buffers_.empty()) {
      mark_starved(token, s);
      update_events(token, s);
      return;
    }
    const uint16_t id = free_buffers_.back();
    free_buffers_.pop_back();
    ++buffers_out_;
    const ssize_t n = ::recv(s.fd, slab_.data(id), slab_.capacity(), 0);
    if (n > 0) {
      handler_->on_recv(token, RecvBuffer{slab_.data(id), size_t(n), slab_.capacity(), id});
      return;
    }
    const int err = n < 0 ? errno : 0;
    release_buffer(id);
    if (n < 0 && (err == EAGAIN || err == EWOULDBLOCK || err == EINTR)) return;
    s.flags |= kRecvEnded;
    update_events(token, s);
    handler_->on_recv_end(token, -err);
  }

  // A socket has at most four completions waiting at once (its one send in flight, its connect,
  // its end of input, its close), so two lists of four per socket never grow inside the loop,
  // where a failed allocation could not be answered by failing one connection. The capacity is
  // address space; only what is used becomes resident. Throws std::bad_alloc to open()'s caller.
  void reserve_completions(Token token) {
    const size_t need = 4 * (size_t(token) + 1);
    if (completions_.capacity() >= need && delivering_.capacity() >= need) return;
    const size_t capacity = std::max(need, 2 * completions_.capacity());
    completions_.reserve(capacity);
    delivering_.reserve(capacity);
  }

  void deliver_completions() {
    // Handlers queue more completions while we deliver (a send that completes at once): those
    // go to the other list, delivered in the next round.
    while (!completions_.empty()) {
      std::swap(completions_, delivering_);
      deliver(delivering_);
      delivering_.clear();
    }
  }

  void deliver(const std::vector<Completion>& batch) {
    for (size_t i = 0; i < batch.size(); ++i) {
      const Completion c = batch[i];
      SocketSlot& s = sockets_[c.token];
      if (c.kind == Completion::Closed) {
        pending(c.token) = {};
        deliver_closed(c.token);
        continue;
      }
      if (s.flags & kClosing) continue;  // after close() nothing but on_closed is delivered
      switch (c.kind) {
        case Completion::Send:
          s.flags &= uint16_t(~kSendInFlight);
          pending(c.token).iov = nullptr;
          handler_->on_send(c.token, c.result);
          break;
        case Completion::Connect: handler_->on_connect(c.token, c.result); break;
        case Completion::RecvEnd: handler_->on_recv_end(c.token, c.result); break;
        case Completion::Closed: break;
      }
    }
  }

  int epfd_ = -1;
  std::vector<epoll_event> events_;
  int ready_ = 0;
  bool pwait2_ = true;  // epoll_pwait2 available (until it says ENOSYS)
  std::vector<PendingSend> pending_;
  std::vector<uint16_t> free_buffers_;
  std::vector<Completion> completions_;
  std::vector<Completion> delivering_;  // the batch being delivered (deliver_completions)
};

}  // namespace

std::unique_ptr<Reactor> make_epoll_reactor(const ReactorOptions& options, std::string* error) {
  auto r = std::make_unique<EpollReactor>(options);
  if (!r->init(error)) return nullptr;
  return r;
}

}  // namespace wsring::net
