// The admin listener (--admin-listen): a small thread of its own with a blocking epoll loop,
// serving AdminHttpConnection on a handful of sockets. It never touches a reactor: what it
// shows, the reactors publish (StatsBoard), so the hot path stays as it is.
#pragma once

#include <memory>
#include <string>
#include <thread>
#include <unordered_map>

#include "net/socket.hpp"
#include "server/admin_http.hpp"

namespace wsring::server {

class AdminServer {
 public:
  static constexpr size_t kMaxConnections = 64;  // more are closed at once: scrapers are few
  static constexpr uint64_t kIdleTimeoutMs = 30000;
  static constexpr size_t kMaxPendingOutput = 1 << 20;  // a pipelining client that does not read waits

  AdminServer() = default;
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Binds and listens on `address`; false with `error` naming the address.
  bool open(const net::SocketAddress& address, std::string& error);
  const net::SocketAddress& address() const { return address_; }
  // Serves on a thread of its own until stop().
  void start(AdminRoutes routes);
  void stop();

 private:
  struct Client {
    AdminHttpConnection http;
    std::string out;
    size_t sent = 0;
    uint64_t last_active_ms = 0;
  };
  void run();
  void accept_all();
  void serve(int fd, Client& c, bool readable);
  bool write_out(int fd, Client& c);  // false: the socket failed
  void drop(int fd);
  void drop_idle(uint64_t now_ms);

  net::SocketAddress address_;
  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: stop()
  AdminRoutes routes_;
  std::unordered_map<int, Client> clients_;
  std::thread thread_;
};

}  // namespace wsring::server
