#include "server/socket_activation.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "server/cli_values.hpp"

namespace wsring::server {
namespace {

bool same_address(const net::SocketAddress& a, const net::SocketAddress& b) {
  if (a.family() != b.family() || a.port() != b.port()) return false;
  if (a.family() == AF_INET)
    return reinterpret_cast<const sockaddr_in*>(&a.storage)->sin_addr.s_addr ==
           reinterpret_cast<const sockaddr_in*>(&b.storage)->sin_addr.s_addr;
  return std::memcmp(&reinterpret_cast<const sockaddr_in6*>(&a.storage)->sin6_addr,
                     &reinterpret_cast<const sockaddr_in6*>(&b.storage)->sin6_addr, sizeof(in6_addr)) == 0;
}

// Whether fd is a listening TCP socket (IPv4 or IPv6).
bool listening_tcp(int fd, const net::SocketAddress& address) {
  int type = 0, listening = 0;
  socklen_t length = sizeof type;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) != 0 || type != SOCK_STREAM) return false;
  length = sizeof listening;
  if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &length) != 0 || !listening) return false;
  return address.family() == AF_INET || address.family() == AF_INET6;
}

std::vector<std::string> split_names(const char* text) {
  std::vector<std::string> names;
  if (!text) return names;
  std::string all(text);
  size_t start = 0;
  for (size_t colon; (colon = all.find(':', start)) != std::string::npos; start = colon + 1)
    names.push_back(all.substr(start, colon - start));
  names.push_back(all.substr(start));
  return names;
}

}  // namespace

std::vector<InheritedSocket> inherited_listeners(std::vector<std::string>& problems) {
  std::vector<InheritedSocket> sockets;
  const char* pid_text = std::getenv("LISTEN_PID");
  const char* fds_text = std::getenv("LISTEN_FDS");
  if (!pid_text || !fds_text) return sockets;
  uint64_t pid = 0, count = 0;
  const bool ours = cli::parse_count(pid_text, pid) && pid == uint64_t(::getpid());
  const std::vector<std::string> names = split_names(std::getenv("LISTEN_FDNAMES"));
  ::unsetenv("LISTEN_PID");
  ::unsetenv("LISTEN_FDS");
  ::unsetenv("LISTEN_FDNAMES");
  if (!ours) return sockets;  // meant for another process (our parent's)
  if (!cli::parse_count(fds_text, count) || count > 65536) {
    problems.push_back(std::string("LISTEN_FDS=") + fds_text + ": expected a count of inherited sockets; none used");
    return sockets;
  }
  for (int fd = kFirstInheritedFd; fd < kFirstInheritedFd + int(count); ++fd) {
    InheritedSocket s;
    s.fd = fd;
    s.address = net::local_address(fd);
    if (size_t(fd - kFirstInheritedFd) < names.size()) s.name = names[size_t(fd - kFirstInheritedFd)];
    if (!listening_tcp(fd, s.address)) {
      problems.push_back("inherited fd " + std::to_string(fd) + " is not a listening TCP socket: ignored");
      if (::fcntl(fd, F_GETFD) >= 0) ::close(fd);
      continue;
    }
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    sockets.push_back(s);
  }
  return sockets;
}

bool adopt_socket(const InheritedSocket& socket, unsigned threads, Listeners& out) {
  out.fds.clear();
  out.address = socket.address;
  out.fds.push_back(socket.fd);
  // Every thread accepts from the same queue; each closes its own descriptor at shutdown.
  for (unsigned i = 1; i < threads; ++i) out.fds.push_back(::fcntl(socket.fd, F_DUPFD_CLOEXEC, 0));
  return std::find(out.fds.begin(), out.fds.end(), -1) == out.fds.end();
}

bool adopt_inherited(std::vector<InheritedSocket>& sockets, const net::SocketAddress& address, unsigned threads,
                     Listeners& out) {
  const auto it = std::find_if(sockets.begin(), sockets.end(),
                               [&](const InheritedSocket& s) { return same_address(s.address, address); });
  if (it == sockets.end()) return false;
  const InheritedSocket s = *it;
  sockets.erase(it);
  return adopt_socket(s, threads, out);
}

}  // namespace wsring::server
