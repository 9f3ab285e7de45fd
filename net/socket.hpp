// Socket set-up helpers shared by the reactors, the server and the load generator:
// address parsing, listening sockets, per-connection options, fd limits.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace wsring::net {

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  int family() const { return storage.ss_family; }
  uint16_t port() const;
  std::string to_string() const;  // "127.0.0.1:9001" or "[::1]:9001"
  // The same text into `out` (NUL-terminated, cut to fit), without allocating; "?" for a family
  // that is neither IPv4 nor IPv6. kTextSize always fits. Returns the length written.
  static constexpr size_t kTextSize = 56;
  size_t format(char* out, size_t size) const;
};

// Parses "HOST:PORT", "[V6]:PORT" or ":PORT" (numeric hosts, or "localhost").
// Returns false with `error` set on bad input.
bool parse_address(std::string_view text, SocketAddress& out, std::string* error);

// A non-blocking listening TCP socket with SO_REUSEADDR and, when reuse_port, SO_REUSEPORT
// (one socket per reactor thread, the kernel spreads connections among them).
// Returns the fd or -errno; `error` says what failed.
int open_listener(const SocketAddress& address, bool reuse_port, int backlog, std::string* error);

// The address a socket is bound to (to learn the port after binding port 0).
SocketAddress local_address(int fd);

void set_tcp_nodelay(int fd);

// Raises RLIMIT_NOFILE's soft limit to the hard limit (or to `want` if lower). Returns the new soft limit.
uint64_t raise_fd_limit(uint64_t want = ~uint64_t{0});

uint64_t monotonic_ms();
uint64_t monotonic_us();

}  // namespace wsring::net
