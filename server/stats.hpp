// Counters of one reactor thread, and the state all reactor threads of a process share.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

#include "core/proxy_header.hpp"
#include "server/memory_budget.hpp"
#include "server/tls_context.hpp"

namespace wsring::server {
class LogLine;
}

namespace wsring::server {

// Buckets of the metrics counters below (names in server/metrics.cpp): fixed sets, so no peer can
// create new series.
constexpr size_t kCloseCodeBuckets = 11;   // none, 1000-1003, 1007-1011, other
constexpr size_t kHttpStatusBuckets = 10;  // 400, 403, 404, 405, 413, 426, 431, 500, 503, other
constexpr size_t kEndReasons = 14;         // EndReason (connection.hpp)

// Plain counters: written by the owning thread only, summed at exit, and published to the admin
// listener once per tick (StatsBoard, server/metrics.hpp). Every field is a uint64_t: the board
// copies the struct word by word.
struct ServerStats {
  uint64_t accepted = 0;
  uint64_t refused_over_limit = 0;
  uint64_t upgraded = 0;
  uint64_t http_errors = 0;
  uint64_t pages_served = 0;
  uint64_t messages_echoed = 0;  // data messages received and handed to the application
  uint64_t protocol_errors = 0;
  uint64_t handshake_timeouts = 0;
  uint64_t idle_timeouts = 0;
  uint64_t send_timeouts = 0;     // peers that did not drain their output (none, or too slowly)
  uint64_t frame_timeouts = 0;    // control frames left incomplete past --frame-timeout
  uint64_t pool_exhausted = 0;
  uint64_t memory_refusals = 0;   // connections failed for memory: the budget was spent or an allocation failed
  uint64_t requests_evicted = 0;  // incomplete request heads dropped to serve newer clients
  uint64_t receives = 0;  // receive buffers handed to the server
  uint64_t sends = 0;     // sends submitted
  uint64_t spills = 0;    // times a full peer socket made us copy its pending output aside
  uint64_t tls_handshakes = 0;
  uint64_t tls_resumed = 0;
  uint64_t tls_offloaded = 0;  // TLS 1.3 sessions whose record layer was taken over (--tls-offload)
  uint64_t tls_handshakes_deferred = 0;  // handshakes that waited for a later loop turn (the per-turn budget)
  uint64_t tls_failures[16] = {};  // by TlsError
  // --- metrics (admin listener) ---
  uint64_t bytes_received = 0;      // socket bytes (TLS records included)
  uint64_t bytes_sent = 0;
  uint64_t messages_sent = 0;       // data messages queued for sending
  uint64_t recv_pauses = 0;         // times backpressure stopped reading a connection
  uint64_t connections_closed = 0;  // sockets closed (on_closed)
  uint64_t closed_by_reason[kEndReasons] = {};
  uint64_t close_codes_sent[kCloseCodeBuckets] = {};
  uint64_t close_codes_received[kCloseCodeBuckets] = {};
  uint64_t upgrade_failures[kHttpStatusBuckets] = {};  // by HTTP status
  // --- end metrics ---
  // --- fan-out (shootout, push, pubsub)
  uint64_t fanout_deliveries = 0;      // shared frames queued to a receiver (one reference each)
  uint64_t fanout_skipped = 0;         // messages a slow receiver skipped (--slow-receiver drop)
  uint64_t slow_receivers_closed = 0;  // slow receivers closed (--slow-receiver close)
  uint64_t fanout_post_failures = 0;   // frames another thread's full mailbox refused
  // --- end fan-out
  // PROXY protocol listeners (--proxy-protocol).
  uint64_t proxy_headers = 0;    // headers accepted
  uint64_t proxy_untrusted = 0;  // connections closed unread: the peer is not in --proxy-from
  uint64_t proxy_timeouts = 0;   // no complete header within --handshake-timeout
  uint64_t proxy_errors[core::kProxyErrorKinds] = {};  // bad headers, by core::ProxyError
  // --- permessage-deflate (--deflate)
  uint64_t deflate_agreed[2] = {};           // connections that agreed to it: [0] shared, [1] dedicated
  uint64_t deflate_messages_inflated = 0;    // compressed messages received and inflated whole
  uint64_t deflate_inflated_in_bytes = 0;    // their compressed bytes
  uint64_t deflate_inflated_out_bytes = 0;   // their bytes after inflating
  uint64_t deflate_messages_compressed = 0;  // messages sent compressed
  uint64_t deflate_compressed_in_bytes = 0;  // their bytes before compressing
  uint64_t deflate_compressed_out_bytes = 0; // their compressed bytes (frame payloads)
  uint64_t deflate_limit_closes = 0;         // closed 1009: a message inflated past --max-message-size
  uint64_t deflate_replies_passed_through = 0;  // echo: replies sent as the client compressed them
  uint64_t deflate_replies_recompressed = 0;    // echo: replies to compressed messages deflated again
  // --- end permessage-deflate

  ServerStats& operator+=(const ServerStats& o);
  void summary(LogLine& out) const;  // one line for the log (appended without allocating)
  uint64_t tls_failures_total() const;
  uint64_t proxy_errors_total() const;
};

// The TLS configuration every thread serves wss:// with. SIGHUP asks for a reload; one thread
// rebuilds the context from the files (a bad new pair is refused and the old one stays), and
// every thread takes the new context for its new connections at its next tick. Sessions that
// are running keep the context they started with.
struct SharedTls {
  std::mutex mutex;                 // guards context and options
  TlsContext context;
  TlsServerOptions options;         // the files and the ticket keys all threads share
  std::atomic<uint64_t> generation{0};
  std::atomic<bool> reload_requested{false};

  // The current context (copied under the lock: a copy shares the SSL_CTX).
  TlsContext current() {
    std::lock_guard<std::mutex> lock(mutex);
    return context;
  }
};

// State shared by all reactor threads of one process (read-mostly).
struct SharedState {
  explicit SharedState(uint64_t max_memory = uint64_t(1) << 30) : memory(max_memory) {}
  std::atomic<bool> stop{false};
  // SIGTERM/SIGINT: the listeners are closed and connections are being closed (1001) over
  // --drain-window; /readyz says 503 from here on.
  std::atomic<bool> draining{false};
  std::atomic<bool> drain_announced{false};  // the first engine to begin the drain logs it (draining is set by the signal)
  std::atomic<uint64_t> connections{0};  // open sockets across threads, for --max-connections
  MemoryBudget memory;                   // --max-memory: output waiting in memory
  SharedTls tls;
};

}  // namespace wsring::server
