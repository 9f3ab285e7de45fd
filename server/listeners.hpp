// The listening sockets of wsring-echo's reactor threads: one per thread, all bound to one
// address with SO_REUSEPORT, so the kernel spreads new connections among the threads.
#pragma once

#include <string>
#include <vector>

#include "net/socket.hpp"

namespace wsring::server {

struct Listeners {
  std::vector<int> fds;          // one listening socket per thread
  net::SocketAddress address;    // the bound address (the actual port when 0 was asked for)
};

// Opens `count` listeners on `address`. SO_REUSEPORT would let a second server on the same port
// start silently and take half the clients, so only this process's own listeners share the port:
// an address held by any other socket is "address in use", unless `join_existing` (--reuse-port)
// asks to join a running server's SO_REUSEPORT group on purpose (a restart without downtime).
// False with `error` set to one line naming the address; every socket opened is closed again.
bool open_listeners(const net::SocketAddress& address, unsigned count, bool join_existing, Listeners& out,
                    std::string& error);

// The URL a client uses for a bound address: a wildcard (0.0.0.0, [::]) shows as the loopback
// address, which reaches it from this machine. `scheme` is "ws" or "http"; `path` is "/" or --path.
std::string url_for(const net::SocketAddress& address, const char* scheme, const std::string& path);

}  // namespace wsring::server
