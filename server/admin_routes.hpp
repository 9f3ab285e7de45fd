// What the admin listener answers: /metrics, /healthz, /readyz (README: "Metrics, health and
// logs"). Apart from the HTTP and the socket loop, so it can be tested with a made-up board.
#pragma once

#include <cstdint>
#include <string_view>

#include "server/admin_http.hpp"
#include "server/metrics.hpp"

namespace wsring::server {

// A reactor whose heartbeat is older than this has stopped turning its loop: /healthz says 503.
constexpr uint64_t kHealthyHeartbeatMs = 1000;

// `backend`: the wsring_build_info label; `now_ms`: net::monotonic_ms().
AdminResponse answer_admin(std::string_view path, const StatsBoard& board, const SharedState& shared,
                           std::string_view backend, uint64_t now_ms);

}  // namespace wsring::server
