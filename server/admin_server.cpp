#include "server/admin_server.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace wsring::server {

AdminServer::~AdminServer() {
  stop();
  for (auto& [fd, client] : clients_) ::close(fd);
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

bool AdminServer::open(const net::SocketAddress& address, std::string& error) {
  const int fd = net::open_listener(address, false, 64, &error);
  if (fd < 0) {
    error = "--admin-listen " + address.to_string() + ": " + error;
    return false;
  }
  listen_fd_ = fd;
  address_ = net::local_address(fd);
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (epoll_fd_ < 0 || wake_fd_ < 0) {
    error = std::string("--admin-listen: ") + strerror(errno);
    return false;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = listen_fd_;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev);
  ev.data.fd = wake_fd_;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  return true;
}

void AdminServer::start(AdminRoutes routes) {
  routes_ = std::move(routes);
  thread_ = std::thread([this] { run(); });
}

void AdminServer::stop() {
  if (!thread_.joinable()) return;
  const uint64_t one = 1;
  ssize_t ignored = ::write(wake_fd_, &one, sizeof one);
  (void)ignored;
  thread_.join();
}

void AdminServer::run() {
  epoll_event events[32];
  for (;;) {
    const int n = epoll_wait(epoll_fd_, events, 32, 1000);
    if (n < 0 && errno != EINTR) return;
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == wake_fd_) return;
      if (fd == listen_fd_) {
        accept_all();
        continue;
      }
      auto it = clients_.find(fd);
      if (it == clients_.end()) continue;
      if (events[i].events & (EPOLLERR | EPOLLHUP) && !(events[i].events & EPOLLIN)) {
        drop(fd);
        continue;
      }
      serve(fd, it->second, events[i].events & EPOLLIN);
    }
    drop_idle(net::monotonic_ms());
  }
}

void AdminServer::accept_all() {
  for (;;) {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, or out of descriptors: the next scrape tries again
    if (clients_.size() >= kMaxConnections) {
      ::close(fd);
      continue;
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.fd = fd;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      ::close(fd);
      continue;
    }
    net::set_tcp_nodelay(fd);
    clients_[fd].last_active_ms = net::monotonic_ms();
  }
}

void AdminServer::serve(int fd, Client& c, bool readable) {
  c.last_active_ms = net::monotonic_ms();
  bool peer_done = false;
  if (readable) {
    char buffer[4096];
    for (int i = 0; i < 16; ++i) {  // bounded: one client cannot hold the loop
      const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n > 0) {
        c.http.receive(std::string_view(buffer, size_t(n)), routes_, c.out);
        if (size_t(n) < sizeof buffer || c.out.size() > kMaxPendingOutput) break;
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EINTR)) peer_done = true;
      break;
    }
  }
  if (!write_out(fd, c)) {
    drop(fd);
    return;
  }
  const bool drained = c.sent == c.out.size();
  if (drained && (c.http.closing() || peer_done)) {
    drop(fd);
    return;
  }
  epoll_event ev{};
  ev.events = (drained ? EPOLLIN | EPOLLRDHUP : EPOLLOUT);
  ev.data.fd = fd;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev);
}

bool AdminServer::write_out(int fd, Client& c) {
  while (c.sent < c.out.size()) {
    const ssize_t n = ::send(fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
    if (n > 0) {
      c.sent += size_t(n);
      continue;
    }
    return n < 0 && (errno == EAGAIN || errno == EINTR);
  }
  c.out.clear();
  c.sent = 0;
  return true;
}

void AdminServer::drop(int fd) {
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  ::close(fd);
  clients_.erase(fd);
}

void AdminServer::drop_idle(uint64_t now_ms) {
  std::vector<int> idle;
  for (const auto& [fd, c] : clients_)
    if (now_ms >= c.last_active_ms + kIdleTimeoutMs) idle.push_back(fd);
  for (int fd : idle) drop(fd);
}

}  // namespace wsring::server
