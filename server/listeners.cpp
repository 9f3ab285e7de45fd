#include "server/listeners.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace wsring::server {
namespace {

bool is_wildcard(const net::SocketAddress& address);

// Whether a socket listens on `address` (a wildcard is asked on its loopback address): a connect
// on this machine is answered at once, accepted or refused.
bool someone_listens(const net::SocketAddress& address) {
  net::SocketAddress target = address;
  if (is_wildcard(address)) {
    if (address.family() == AF_INET6)
      reinterpret_cast<sockaddr_in6*>(&target.storage)->sin6_addr = in6addr_loopback;
    else
      reinterpret_cast<sockaddr_in*>(&target.storage)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  }
  const int fd = ::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return true;  // cannot tell: keep the probe's answer
  const bool connected = ::connect(fd, target.get(), target.length) == 0;
  ::close(fd);
  return connected;
}

// Binds a socket WITHOUT SO_REUSEPORT to `address`: EADDRINUSE then means another socket holds
// it, whether or not that one set SO_REUSEPORT. SO_REUSEADDR is set as on the real listeners; yet
// connections of an earlier run lingering in TIME_WAIT still make this bind fail when that run's
// listeners had SO_REUSEPORT (seen on Linux 6.18), so an EADDRINUSE with nobody listening is not
// "in use": a restart right after a stop works. On success `address` gets the bound address (the
// port the kernel picked when 0 was asked for) and the probe is closed.
bool probe_address(net::SocketAddress& address, std::string& error) {
  const int fd = ::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (address.family() == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  const bool bound = ::bind(fd, address.get(), address.length) == 0;
  const int bind_errno = errno;
  if (bound) address = net::local_address(fd);
  ::close(fd);
  if (bound) return true;
  if (bind_errno == EADDRINUSE && address.port() != 0 && !someone_listens(address)) return true;
  error = "cannot listen on " + address.to_string() + ": ";
  error += bind_errno == EADDRINUSE
               ? "address in use (to share the port with a running wsring-echo on purpose, add --reuse-port)"
               : std::strerror(bind_errno);
  return false;
}

void close_all(Listeners& listeners) {
  for (int fd : listeners.fds) ::close(fd);
  listeners.fds.clear();
}

bool is_wildcard(const net::SocketAddress& address) {
  if (address.family() == AF_INET6) {
    const auto* a6 = reinterpret_cast<const sockaddr_in6*>(&address.storage);
    return std::memcmp(&a6->sin6_addr, &in6addr_any, sizeof in6addr_any) == 0;
  }
  return reinterpret_cast<const sockaddr_in*>(&address.storage)->sin_addr.s_addr == htonl(INADDR_ANY);
}

}  // namespace

bool open_listeners(const net::SocketAddress& address, unsigned count, bool join_existing, Listeners& out,
                    std::string& error) {
  close_all(out);
  out.address = address;
  // The probe and the first listener are two binds: another process can take the address in
  // between (for port 0: the port the probe got). The window is a few microseconds, and what can
  // slip in is only a socket of the same user with SO_REUSEPORT (then we share the port, as
  // before this check existed) or one that makes our bind fail (a clear error).
  if (!join_existing && !probe_address(out.address, error)) return false;
  for (unsigned i = 0; i < count; ++i) {
    const int fd = net::open_listener(out.address, /*reuse_port=*/true, 4096, &error);
    if (fd < 0) {
      if (fd == -EADDRINUSE) error += " (another process holds the address)";
      close_all(out);
      return false;
    }
    // The first listener fixes the port (port 0 with --reuse-port); the others join it.
    if (i == 0) out.address = net::local_address(fd);
    out.fds.push_back(fd);
  }
  return true;
}

std::string url_for(const net::SocketAddress& address, const char* scheme, const std::string& path) {
  std::string host_port = address.to_string();
  if (is_wildcard(address)) {
    host_port = (address.family() == AF_INET6 ? "[::1]:" : "127.0.0.1:") + std::to_string(address.port());
  }
  return std::string(scheme) + "://" + host_port + (path.empty() ? "/" : path);
}

}  // namespace wsring::server
