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

// Plain counters: written by the owning thread only, summed at exit.
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
  uint64_t tls_failures[16] = {};  // by TlsError
  // PROXY protocol listeners (--proxy-protocol).
  uint64_t proxy_headers = 0;    // headers accepted
  uint64_t proxy_untrusted = 0;  // connections closed unread: the peer is not in --proxy-from
  uint64_t proxy_timeouts = 0;   // no complete header within --handshake-timeout
  uint64_t proxy_errors[core::kProxyErrorKinds] = {};  // bad headers, by core::ProxyError

  ServerStats& operator+=(const ServerStats& o);
  std::string summary() const;  // one line for the log
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
  std::atomic<uint64_t> connections{0};  // open sockets across threads, for --max-connections
  // SIGTERM/SIGINT: the listeners are closed and connections are being closed (1001) over
  // --drain-window; /readyz says not ready from here on.
  std::atomic<bool> draining{false};
  MemoryBudget memory;                   // --max-memory: output waiting in memory
  SharedTls tls;
};

}  // namespace wsring::server
