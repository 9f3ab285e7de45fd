// The PROXY protocol's configuration: which listeners expect a header (--proxy-protocol) and
// which peers may send one (--proxy-from CIDR). A header from anyone else would let a client
// claim any address, so connections from other peers are closed before a byte is read.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/proxy_header.hpp"
#include "net/socket.hpp"

namespace wsring::server {

struct Cidr {
  int family = 0;       // AF_INET or AF_INET6
  uint8_t ip[16] = {};  // network order; only the first `prefix` bits count
  unsigned prefix = 0;  // 0..32 or 0..128
};

// "A.B.C.D/N", "V6/N", or a bare address (a /32 or /128). False with `error` set on bad input.
bool parse_cidr(std::string_view text, Cidr& out, std::string* error);

// Whether `peer` (an AF_INET or AF_INET6 socket address) lies in one of `trusted`. An
// IPv4-mapped IPv6 peer (::ffff:a.b.c.d, on a dual-stack listener) matches IPv4 ranges too.
bool peer_trusted(const sockaddr_storage& peer, const std::vector<Cidr>& trusted);

// The client a header names, as a socket address; false when it names none (LOCAL, UNKNOWN,
// UNSPEC, AF_UNIX: the connection's own address stands).
bool proxy_client_address(const core::ProxyHeader& header, net::SocketAddress& out);

// The proxy options of the command line: "--proxy-protocol all|ADDRESS" (repeatable) and
// "--proxy-from CIDR" (repeatable). `listeners` gets "all" or the HOST:PORT form of --listen.
bool parse_proxy_listener(const std::string& arg, std::vector<std::string>& listeners, std::string& error);
bool parse_proxy_from(const std::string& arg, std::vector<Cidr>& trusted, std::string& error);

// Checks across flags: every --proxy-protocol ADDRESS is a --listen or --tls-listen address, and
// --proxy-protocol and --proxy-from come together. False with `message` (one line) set.
bool check_proxy_flags(const std::vector<std::string>& listeners, const std::vector<Cidr>& trusted,
                       const std::string& listen, const std::vector<std::string>& tls_listen, std::string& message);

// Whether the listener bound to `address` (HOST:PORT as given to --listen/--tls-listen) expects
// a PROXY header.
bool proxy_listener(const std::vector<std::string>& listeners, const std::string& address);

}  // namespace wsring::server
