// What the engine tells the outside: its counters for the admin listener, and peer names for
// log lines. Cold paths only.
#include <sys/socket.h>

#include <cstdio>
#include <new>

#include "net/socket.hpp"
#include "server/engine.hpp"

namespace wsring::server {

void Engine::publish(uint64_t now_ms) {
  if (connection_log_.enabled()) connection_log_.tick(now_ms, log_);
  if (!board_) return;
  ThreadGauges g;
  g.open_connections = live_;
  g.receive_buffers_in_use = reactor_.buffers_in_use();
  g.receive_buffer_exhaustions = reactor_.buffer_starvations();
  board_->publish(board_index_, stats_, g, now_ms);  // the reactor's clock is net::monotonic_ms
  if (board_index_ == 0 && board_->take_dump_request()) {
    try {
      std::string text;
      write_metrics(text, board_->total_stats(), board_->total_gauges(), read_process_figures(shared_),
                    config_.threads, kVersion, reactor_.name());
      log_.report("counters", {{"metrics", metrics_log_line(text)}});  // SIGUSR1 asked: at any --log-level
    } catch (const std::bad_alloc&) {
      log_.report("counters", {{"metrics", "(not written: out of memory)"}});
    }
  }
}

void Engine::sample_connection(Connection& c) {
  try {
    c.sampled = connection_log_.open(c.token, reactor_.now_ms());
    if (c.sampled) sampled(c).peer = peer_address(c.token).to_string();
  } catch (const std::bad_alloc&) {  // the log misses this connection; the connection is fine
    c.sampled = false;
  }
}

void Engine::log_connection_closed(Connection& c) {
  c.sampled = false;
  connection_log_.close(c.token, end_reason_name(size_t(c.end_reason)), reactor_.now_ms(), log_);
}

// A proxied connection is named by the client its PROXY header carried, else by its socket's peer.
net::SocketAddress Engine::peer_address(net::Token token) const {
  if (net::SocketAddress client = proxied_client(token); client.family() != AF_UNSPEC) return client;
  net::SocketAddress peer;
  const int fd = reactor_.socket_of(token);
  peer.length = sizeof peer.storage;
  if (fd < 0 || getpeername(fd, reinterpret_cast<sockaddr*>(&peer.storage), &peer.length) != 0) return {};
  return peer;
}

Engine::ConnectionName Engine::who(net::Token token) const {
  ConnectionName name;
  const net::SocketAddress peer = peer_address(token);
  char address[net::SocketAddress::kTextSize] = "peer unknown";
  if (peer.family() != AF_UNSPEC) peer.format(address, sizeof address);
  snprintf(name.text, sizeof name.text, "connection %u (%s)", unsigned(token), address);
  return name;
}

}  // namespace wsring::server
