#include "net/socket.hpp"

#include "net/reactor.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <charconv>
#include <cstring>

namespace wsring::net {

uint16_t SocketAddress::port() const {
  if (storage.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  if (storage.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  return 0;
}

size_t SocketAddress::format(char* out, size_t size) const {
  if (size == 0) return 0;
  char host[INET6_ADDRSTRLEN] = "?";
  int n;
  if (storage.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, host, sizeof host);
    n = snprintf(out, size, "%s:%u", host, unsigned(port()));
  } else if (storage.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, host, sizeof host);
    n = snprintf(out, size, "[%s]:%u", host, unsigned(port()));
  } else {
    n = snprintf(out, size, "?");
  }
  return n < 0 ? 0 : std::min(size_t(n), size - 1);
}

std::string SocketAddress::to_string() const {
  char text[kTextSize];
  return std::string(text, format(text, sizeof text));
}

bool parse_address(std::string_view text, SocketAddress& out, std::string* error) {
  auto fail = [&](const char* why) {
    if (error) *error = why;
    return false;
  };
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return fail("expected HOST:PORT");
  std::string_view host = text.substr(0, colon), port_text = text.substr(colon + 1);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535)
    return fail("port must be a number from 0 to 65535");
  out = SocketAddress{};
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    std::string h(host.substr(1, host.size() - 2));
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
    if (inet_pton(AF_INET6, h.c_str(), &a6->sin6_addr) != 1) return fail("bad IPv6 address");
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(static_cast<uint16_t>(port));
    out.length = sizeof(sockaddr_in6);
    return true;
  }
  std::string h = host.empty() ? std::string("0.0.0.0") : std::string(host);
  if (h == "localhost") h = "127.0.0.1";
  auto* a4 = reinterpret_cast<sockaddr_in*>(&out.storage);
  if (inet_pton(AF_INET, h.c_str(), &a4->sin_addr) != 1)
    return fail("host must be a numeric IPv4 address, [IPv6] or localhost");
  a4->sin_family = AF_INET;
  a4->sin_port = htons(static_cast<uint16_t>(port));
  out.length = sizeof(sockaddr_in);
  return true;
}

int open_listener(const SocketAddress& address, bool reuse_port, int backlog, std::string* error) {
  int fd = ::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    int e = errno;
    if (error) *error = std::string("socket: ") + strerror(e);
    return -e;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (reuse_port) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (address.family() == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (::bind(fd, address.get(), address.length) < 0 || ::listen(fd, backlog) < 0) {
    int e = errno;
    if (error) *error = "cannot listen on " + address.to_string() + ": " + strerror(e);
    ::close(fd);
    return -e;
  }
  return fd;
}

SocketAddress local_address(int fd) {
  SocketAddress a;
  a.length = sizeof a.storage;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&a.storage), &a.length) < 0) a.length = 0;
  return a;
}

void set_tcp_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

uint64_t raise_fd_limit(uint64_t want) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  // A privileged process may also lift the hard limit, up to the kernel's fs.nr_open.
  if (FILE* f = fopen("/proc/sys/fs/nr_open", "r")) {
    unsigned long long nr_open = 0;
    if (fscanf(f, "%llu", &nr_open) == 1 && nr_open > rl.rlim_max) {
      rlimit wider = rl;
      wider.rlim_max = rlim_t(std::min<unsigned long long>(nr_open, want));
      if (wider.rlim_max > rl.rlim_max && setrlimit(RLIMIT_NOFILE, &wider) == 0) getrlimit(RLIMIT_NOFILE, &rl);
    }
    fclose(f);
  }
  rlim_t target = rl.rlim_max;
  if (want < target) target = want;
  if (rl.rlim_cur < target) {
    rl.rlim_cur = target;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur;
}

uint64_t monotonic_us() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000u + uint64_t(ts.tv_nsec) / 1000u;
}

uint64_t monotonic_ms() { return monotonic_us() / 1000u; }

uint64_t Reactor::now_ms() const { return monotonic_ms(); }

}  // namespace wsring::net
