// Socket activation: listening sockets inherited from the parent process, by systemd's
// convention (LISTEN_PID = our pid, LISTEN_FDS = how many, from fd 3 on, LISTEN_FDNAMES optional,
// colon-separated). A parent that keeps the sockets open across a restart keeps their accept
// queues: a client connecting while no wsring-echo runs waits in the queue instead of failing.
#pragma once

#include <string>
#include <vector>

#include "net/socket.hpp"
#include "server/listeners.hpp"

namespace wsring::server {

constexpr int kFirstInheritedFd = 3;  // SD_LISTEN_FDS_START

struct InheritedSocket {
  int fd = -1;
  net::SocketAddress address;  // getsockname
  std::string name;            // from LISTEN_FDNAMES, or ""
};

// The listening TCP sockets passed to this process (none when LISTEN_PID is not our pid). They
// are made non-blocking and close-on-exec, and the variables are removed from the environment
// (children must not take them for theirs). `problems` gets one line per fd that is not a
// listening TCP socket (closed and skipped) or a malformed variable.
std::vector<InheritedSocket> inherited_listeners(std::vector<std::string>& problems);

// Takes the inherited socket bound to `address` out of `sockets` into `out`: the socket serves
// the first thread, dup()s of it the others. False when none matches.
bool adopt_inherited(std::vector<InheritedSocket>& sockets, const net::SocketAddress& address, unsigned threads,
                     Listeners& out);

// The same for a socket no flag asked for (served as a plain ws:// listener).
bool adopt_socket(const InheritedSocket& socket, unsigned threads, Listeners& out);

}  // namespace wsring::server
