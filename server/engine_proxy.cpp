// The PROXY protocol at the engine's transport seam. A connection accepted on a PROXY listener is
// first checked against --proxy-from (others are closed before a byte is read), then waits, in
// the Handshaking state and under its deadline, for the header: core::parse_proxy_header reads it
// from the receive buffer, or from a small buffer of its own while it spans receives. The bytes
// after the header in the same buffer go to the transport (plain or TLS) unchanged. The client
// named by the header is kept in a side table for the connection's life, for log lines.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <new>

#include "net/socket.hpp"
#include "server/engine.hpp"
#include "server/proxy_trust.hpp"

namespace wsring::server {

void Engine::add_listener(int listen_fd) { plain_listen_fds_.push_back(listen_fd); }

void Engine::add_proxy_listener(int listen_fd) { proxy_listen_fds_.push_back(listen_fd); }

net::SocketAddress Engine::proxied_client(net::Token token) const {
  if (proxied_.empty()) return {};
  const auto it = proxied_.find(token);
  return it == proxied_.end() ? net::SocketAddress{} : it->second.client;
}

// True when the socket came from a peer outside --proxy-from: it is closed, unread, and counted.
bool Engine::proxy_peer_refused(int fd) {
  sockaddr_storage peer{};
  socklen_t length = sizeof peer;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) == 0 && peer_trusted(peer, config_.proxy_from))
    return false;
  ++stats_.proxy_untrusted;
  if (log_.enabled(LogLevel::Debug)) {
    net::SocketAddress address;
    address.storage = peer;
    address.length = length;
    log_.debug("refused a connection from %s: not a --proxy-from peer", address.to_string().c_str());
  }
  ::close(fd);
  return true;
}

bool Engine::receive_proxy(Connection& c, const net::RecvBuffer& b, net::RecvBuffer& rest) {
  if (c.state != ConnState::Handshaking) {  // closing already
    reactor_.release_buffer(b.id);
    return false;
  }
  ProxiedPeer& peer = proxied_[c.token];  // created at accept
  const size_t before = peer.partial_size;
  std::span<const uint8_t> input(b.data, b.size);
  if (before > 0) {  // the header's start came in an earlier receive
    const size_t take = std::min(b.size, core::kProxyMaxLength - before);
    std::memcpy(peer.partial.get() + before, b.data, take);
    input = std::span<const uint8_t>(peer.partial.get(), before + take);
  }
  const core::ProxyHeader h = core::parse_proxy_header(input);
  if (h.status == core::ProxyStatus::Incomplete) {
    // The parser answers before kProxyMaxLength bytes, so what is here fits.
    if (!peer.partial) peer.partial.reset(new (std::nothrow) uint8_t[core::kProxyMaxLength]);
    if (!peer.partial) {
      reactor_.release_buffer(b.id);
      ++stats_.memory_refusals;
      close_now(c, true);
      return false;
    }
    if (before == 0) std::memcpy(peer.partial.get(), b.data, b.size);
    peer.partial_size = uint16_t(input.size());
    reactor_.release_buffer(b.id);
    return false;
  }
  const size_t from_this_buffer = h.length - before;
  if (!take_proxy_header(c, h) || from_this_buffer == b.size) {
    reactor_.release_buffer(b.id);
    return false;
  }
  // The transport's first bytes followed the header: they are read from where they lie (the
  // header's bytes in front of them only add to the buffer's headroom).
  rest = b;
  rest.data += from_this_buffer;
  rest.size -= from_this_buffer;
  rest.capacity -= from_this_buffer;
  return true;
}

// A parsed header (Done or Error): true when the connection goes on to its transport.
bool Engine::take_proxy_header(Connection& c, const core::ProxyHeader& h) {
  ProxiedPeer& peer = proxied_[c.token];
  peer.partial.reset();
  peer.partial_size = 0;
  if (h.status == core::ProxyStatus::Error) {
    ++stats_.proxy_errors[size_t(h.error)];
    log_.debug("connection %u: bad PROXY header (%s)", c.token, core::proxy_error_name(h.error));
    close_now(c, true);
    return false;
  }
  ++stats_.proxy_headers;
  c.proxy_pending = false;
  const bool named = proxy_client_address(h, peer.client);
  if (log_.enabled(LogLevel::Debug)) {
    char client[net::SocketAddress::kTextSize];
    peer.client.format(client, sizeof client);
    log_.debug("connection %u: PROXY v%u header: client %s", c.token, unsigned(h.version),
               named ? client : (h.local ? "(LOCAL: the proxy itself)" : "(none named)"));
  }
  // The connection log took the socket's peer (the balancer) at accept: name the client instead.
  if (c.sampled && named) sampled(c).peer = peer.client.to_string();
  if (!named) proxied_.erase(c.token);
  return true;
}

void Engine::forget_proxy(net::Token t) {
  if (!proxied_.empty()) proxied_.erase(t);
}

}  // namespace wsring::server
