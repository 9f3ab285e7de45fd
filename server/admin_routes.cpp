#include "server/admin_routes.hpp"

#include "server/config.hpp"

namespace wsring::server {

AdminResponse answer_admin(std::string_view path, const StatsBoard& board, const SharedState& shared,
                           std::string_view backend, uint64_t now_ms) {
  AdminResponse r;
  if (path == "/metrics") {
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    write_metrics(r.body, board.total_stats(), board.total_gauges(), read_process_figures(shared), board.threads(),
                  kVersion, backend);
  } else if (path == "/healthz") {
    // Every reactor publishes at each tick (50 ms): a second without one is a stalled loop.
    const bool alive = now_ms < board.oldest_heartbeat_ms() + kHealthyHeartbeatMs;
    r.status = alive ? 200 : 503;
    r.body = alive ? "ok\n" : "a reactor thread has not turned its loop for over a second\n";
  } else if (path == "/readyz") {
    const bool draining = shared.draining.load(std::memory_order_relaxed);
    r.status = draining ? 503 : 200;
    r.body = draining ? "draining\n" : "ready\n";
  } else {
    r.status = 404;
    r.body = "not found: try /metrics, /healthz or /readyz\n";
  }
  return r;
}

}  // namespace wsring::server
