// Shutdown without a stampede (SIGTERM, SIGINT): the listeners close at once (a sibling process
// on the same port, or the socket-activation parent, takes the new connections), then the open
// connections get their close (1001) spread evenly over --drain-window, so their clients do not
// all reconnect in the same instant; replies are awaited for --close-timeout after the window.
// A connection accepted just before the listeners closed still gets its upgrade and then its
// close: nobody's connect fails because this process is leaving.
#include <unistd.h>

#include <cstdio>
#include <new>

#include "core/close.hpp"
#include "server/engine.hpp"

namespace wsring::server {
namespace {

// Whether connections still queued on a closing SO_REUSEPORT listener move to a sibling
// listener of the same port: net.ipv4.tcp_migrate_req ("" when this kernel lacks it).
std::string migrate_setting() {
  std::FILE* f = std::fopen("/proc/sys/net/ipv4/tcp_migrate_req", "r");
  if (!f) return "";
  char value[8] = {};
  const bool read = std::fgets(value, sizeof value, f) != nullptr;
  std::fclose(f);
  return read ? std::string(1, value[0]) : "";
}

}  // namespace

void Engine::close_listeners() {
  if (listeners_closed_) return;
  listeners_closed_ = true;
  reactor_.stop_accepting();
  // The fds stay listed: an accept completion already on its way still names its listener.
  if (listen_fd_ >= 0) ::close(listen_fd_);
  for (int fd : tls_listen_fds_) ::close(fd);
  for (int fd : plain_listen_fds_) ::close(fd);
}

void Engine::begin_shutdown(uint64_t now_ms) {
  shutting_down_ = true;
  drain_start_ms_ = now_ms;
  shutdown_deadline_ms_ = now_ms + seconds_to_ms(config_.drain_window_s) + seconds_to_ms(config_.close_timeout_s);
  close_listeners();
  shared_.draining.store(true, std::memory_order_relaxed);
  if (!shared_.drain_announced.exchange(true)) {  // the first engine to stop says how
    const std::string migrate = migrate_setting();
    log_.info("draining: listeners closed; closing connections (1001) over %.3g s, replies awaited %.3g s more%s",
              config_.drain_window_s, config_.close_timeout_s,
              migrate == "1"   ? "; connections queued on the listeners migrate to another SO_REUSEPORT listener "
                                 "of the port (net.ipv4.tcp_migrate_req=1)"
              : migrate == "0" ? "; connections still queued on the listeners are reset unless another process "
                                 "holds the sockets (net.ipv4.tcp_migrate_req=0: no migration to a sibling "
                                 "SO_REUSEPORT listener)"
                               : "");
  }
  try {
    connections_.for_each([&](Connection& c) {
      if (c.state == ConnState::Open || c.state == ConnState::Handshaking) drain_order_.push_back(c.token);
    });
  } catch (const std::bad_alloc&) {
    drain_order_.clear();  // no order: everyone at the end of the window
  }
  drain(now_ms);
}

// The i-th of the n connections open at the start gets its close at start + window * i / n; at
// the end of the window, every connection still open (upgraded since) gets its close, and one
// still without an upgrade is closed.
void Engine::drain(uint64_t now_ms) {
  const uint64_t window = seconds_to_ms(config_.drain_window_s);
  const uint64_t elapsed = now_ms - std::min(now_ms, drain_start_ms_);
  const bool window_over = elapsed >= window;
  const size_t n = drain_order_.size();
  const size_t due = window_over ? n : std::min<size_t>(n, size_t(uint64_t(n) * elapsed / window) + 1);
  for (; drain_next_ < due; ++drain_next_) close_going_away(connections_[drain_order_[drain_next_]], false);
  if (window_over) connections_.for_each([&](Connection& c) { close_going_away(c, true); });
}

void Engine::close_going_away(Connection& c, bool window_over) {
  if (c.state == ConnState::Open || (c.state == ConnState::Handshaking && window_over))
    c.ended_by(EndReason::Shutdown);
  try {
    if (c.state == ConnState::Open) {
      queue_close(c, core::close_code::going_away, "server shutting down");
      flush(c);
    } else if (c.state == ConnState::Handshaking && window_over) {
      close_now(c);
    }
  } catch (const std::bad_alloc&) {
    fail_for_memory(c);
  }
}

}  // namespace wsring::server
