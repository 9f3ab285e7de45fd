#include "server/proxy_trust.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

#include "server/cli_values.hpp"
#include "server/config.hpp"

namespace wsring::server {
namespace {

bool prefix_matches(const uint8_t* a, const uint8_t* b, unsigned bits) {
  const unsigned whole = bits / 8, rest = bits % 8;
  if (std::memcmp(a, b, whole) != 0) return false;
  if (rest == 0) return true;
  const uint8_t mask = uint8_t(0xFF << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

}  // namespace

bool parse_cidr(std::string_view text, Cidr& out, std::string* error) {
  const size_t slash = text.find('/');
  const std::string address(text.substr(0, slash));
  Cidr c;
  c.family = address.find(':') != std::string::npos ? AF_INET6 : AF_INET;
  const unsigned max_prefix = c.family == AF_INET ? 32 : 128;
  if (inet_pton(c.family, address.c_str(), c.ip) != 1) {
    if (error) *error = cli::quoted(text) + ": expected an IPv4 or IPv6 address, optionally with /PREFIX";
    return false;
  }
  c.prefix = max_prefix;
  if (slash != std::string_view::npos) {
    uint64_t n = 0;
    if (!cli::parse_count(text.substr(slash + 1), n) || n > max_prefix) {
      if (error) *error = cli::quoted(text) + ": the prefix length is a number from 0 to " + std::to_string(max_prefix);
      return false;
    }
    c.prefix = unsigned(n);
  }
  out = c;
  return true;
}

bool peer_trusted(const sockaddr_storage& peer, const std::vector<Cidr>& trusted) {
  const uint8_t* ip4 = nullptr;
  const uint8_t* ip6 = nullptr;
  if (peer.ss_family == AF_INET) {
    ip4 = reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in*>(&peer)->sin_addr);
  } else if (peer.ss_family == AF_INET6) {
    const in6_addr& a6 = reinterpret_cast<const sockaddr_in6*>(&peer)->sin6_addr;
    ip6 = reinterpret_cast<const uint8_t*>(&a6);
    if (IN6_IS_ADDR_V4MAPPED(&a6)) ip4 = ip6 + 12;
  }
  return std::any_of(trusted.begin(), trusted.end(), [&](const Cidr& c) {
    const uint8_t* ip = c.family == AF_INET ? ip4 : ip6;
    return ip && prefix_matches(ip, c.ip, c.prefix);
  });
}

bool proxy_client_address(const core::ProxyHeader& header, net::SocketAddress& out) {
  out = net::SocketAddress{};
  if (header.local) return false;
  if (header.family == core::ProxyFamily::Inet) {
    sockaddr_in& a = *reinterpret_cast<sockaddr_in*>(&out.storage);
    a.sin_family = AF_INET;
    a.sin_port = htons(header.source.port);
    std::memcpy(&a.sin_addr, header.source.ip, 4);
    out.length = sizeof a;
    return true;
  }
  if (header.family == core::ProxyFamily::Inet6) {
    sockaddr_in6& a = *reinterpret_cast<sockaddr_in6*>(&out.storage);
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(header.source.port);
    std::memcpy(&a.sin6_addr, header.source.ip, 16);
    out.length = sizeof a;
    return true;
  }
  return false;
}

bool parse_proxy_listener(const std::string& arg, std::vector<std::string>& listeners, std::string& error) {
  if (arg == "all") {
    listeners.push_back(arg);
    return true;
  }
  std::string address;
  if (!parse_listen_address(arg, address, &error)) {
    error = "--proxy-protocol: expected 'all' or a --listen/--tls-listen address, " + error;
    return false;
  }
  listeners.push_back(address);
  return true;
}

bool parse_proxy_from(const std::string& arg, std::vector<Cidr>& trusted, std::string& error) {
  Cidr c;
  if (!parse_cidr(arg, c, &error)) {
    error = "--proxy-from: " + error;
    return false;
  }
  trusted.push_back(c);
  return true;
}

bool check_proxy_flags(const std::vector<std::string>& listeners, const std::vector<Cidr>& trusted,
                       const std::string& listen, const std::vector<std::string>& tls_listen, std::string& message) {
  if (!listeners.empty() && trusted.empty()) {
    message = "--proxy-protocol needs --proxy-from CIDR (the balancers allowed to send the header)";
    return false;
  }
  if (listeners.empty() && !trusted.empty()) {
    message = "--proxy-from needs --proxy-protocol all|ADDRESS";
    return false;
  }
  for (const std::string& l : listeners) {
    if (l == "all" || l == listen || std::find(tls_listen.begin(), tls_listen.end(), l) != tls_listen.end())
      continue;
    message = "--proxy-protocol " + l + ": not a --listen or --tls-listen address";
    return false;
  }
  return true;
}

bool proxy_listener(const std::vector<std::string>& listeners, const std::string& address) {
  return std::any_of(listeners.begin(), listeners.end(),
                     [&](const std::string& l) { return l == "all" || l == address; });
}

}  // namespace wsring::server
