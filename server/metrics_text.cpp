// The families /metrics shows (the table in server/README.md): names follow the Prometheus
// conventions (wsring_ prefix, base units, _total for counters, _info for metadata).
#include <iterator>

#include "server/metrics.hpp"
#include "server/tls_session.hpp"

namespace wsring::server {

namespace {

void write_connections(Exposition& e, const ServerStats& s, const ThreadGauges& g) {
  e.single("wsring_connections_open", "gauge", "Connections open now (every state, WebSocket or HTTP).",
           g.open_connections);
  e.single("wsring_connections_accepted_total", "counter", "Connections accepted.", s.accepted);
  e.single("wsring_connections_refused_total", "counter", "Connections refused with 503 over --max-connections.",
           s.refused_over_limit);
  e.family("wsring_connections_closed_total", "counter", "Connections closed, by what ended them first.");
  for (size_t r = 0; r < kEndReasons; ++r) e.sample({{"reason", end_reason_name(r)}}, s.closed_by_reason[r]);
  e.single("wsring_upgrades_total", "counter", "Opening handshakes answered with 101.", s.upgraded);
  e.family("wsring_upgrade_failures_total", "counter", "Upgrade requests refused, by HTTP status.");
  for (size_t b = 0; b < kHttpStatusBuckets; ++b)
    e.sample({{"status", http_status_bucket_name(b)}}, s.upgrade_failures[b]);
  e.single("wsring_pages_served_total", "counter", "Plain GETs answered with the echo page.", s.pages_served);
  e.single("wsring_requests_evicted_total", "counter",
           "Incomplete request heads dropped to make room for newer clients.", s.requests_evicted);
  e.family("wsring_timeouts_total", "counter", "Connections closed by a timeout, by kind.");
  e.sample({{"kind", "handshake"}}, s.handshake_timeouts);
  e.sample({{"kind", "idle"}}, s.idle_timeouts);
  e.sample({{"kind", "send"}}, s.send_timeouts);
  e.sample({{"kind", "frame"}}, s.frame_timeouts);
}

void write_traffic(Exposition& e, const ServerStats& s) {
  e.single("wsring_messages_received_total", "counter", "Data messages received.", s.messages_echoed);
  e.single("wsring_messages_sent_total", "counter", "Data messages sent.", s.messages_sent);
  e.single("wsring_received_bytes_total", "counter", "Bytes read from sockets (headers, frames, TLS records).",
           s.bytes_received);
  e.single("wsring_sent_bytes_total", "counter", "Bytes written to sockets.", s.bytes_sent);
  e.single("wsring_receives_total", "counter", "Receive completions (buffers filled by the kernel).", s.receives);
  e.single("wsring_sends_total", "counter", "Sends submitted.", s.sends);
  e.family("wsring_close_codes_sent_total", "counter", "Close frames sent, by status code.");
  for (size_t b = 0; b < kCloseCodeBuckets; ++b)
    e.sample({{"code", close_code_bucket_name(b)}}, s.close_codes_sent[b]);
  e.family("wsring_close_codes_received_total", "counter", "Close frames received, by status code.");
  for (size_t b = 0; b < kCloseCodeBuckets; ++b)
    e.sample({{"code", close_code_bucket_name(b)}}, s.close_codes_received[b]);
  e.single("wsring_protocol_errors_total", "counter", "Connections failed for a WebSocket protocol error.",
           s.protocol_errors);
}

void write_resources(Exposition& e, const ServerStats& s, const ThreadGauges& g, const ProcessFigures& p) {
  e.single("wsring_output_queued_bytes", "gauge", "Output waiting in memory (spilled or copied), all connections.",
           p.output_queued_bytes);
  e.single("wsring_output_memory_limit_bytes", "gauge", "The output memory budget (--max-memory).",
           p.output_memory_limit);
  e.single("wsring_backpressure_pauses_total", "counter", "Times a connection stopped being read until it drained.",
           s.recv_pauses);
  e.single("wsring_output_spills_total", "counter", "Times a full peer socket made output be copied aside.",
           s.spills);
  e.single("wsring_memory_refusals_total", "counter", "Connections failed because output memory was refused.",
           s.memory_refusals);
  e.single("wsring_receive_buffers_in_use", "gauge", "Receive buffers held by the server now.",
           g.receive_buffers_in_use);
  e.single("wsring_receive_buffer_exhaustions_total", "counter",
           "Times a socket found the receive-buffer ring empty.", g.receive_buffer_exhaustions);
  e.single("wsring_write_pool_exhaustions_total", "counter", "Times the write or gather pool was empty.",
           s.pool_exhausted);
  e.family("wsring_process_cpu_seconds_total", "counter", "CPU time of the process, user and system.");
  e.sample(p.cpu_seconds);
  e.single("wsring_process_resident_memory_bytes", "gauge", "Resident memory of the process.", p.resident_bytes);
}

// Label values for TlsError (tls_error_name's words are for log lines).
constexpr const char* kTlsFailureKinds[] = {"none",        "not_tls",           "protocol_version",
                                            "handshake_failed", "certificate_verify", "peer_alert",
                                            "bad_record",  "eof_in_handshake",  "eof_without_close_notify",
                                            "out_of_buffers", "internal"};
static_assert(std::size(kTlsFailureKinds) == size_t(TlsError::Internal) + 1);

void write_tls(Exposition& e, const ServerStats& s) {
  e.family("wsring_tls_handshakes_total", "counter", "TLS handshakes completed, full or resumed.");
  e.sample({{"kind", "full"}}, s.tls_handshakes - s.tls_resumed);
  e.sample({{"kind", "resumed"}}, s.tls_resumed);
  e.single("wsring_tls_offloaded_total", "counter",
           "TLS 1.3 sessions whose record layer wsring took over after the handshake (--tls-offload).",
           s.tls_offloaded);
  e.family("wsring_tls_failures_total", "counter", "TLS connections failed, by kind.");
  for (size_t i = 1; i <= size_t(TlsError::Internal) && i < std::size(s.tls_failures); ++i)
    e.sample({{"kind", kTlsFailureKinds[i]}}, s.tls_failures[i]);
  e.single("wsring_tls_handshakes_deferred_total", "counter",
           "TLS handshakes that waited for a later loop turn (--tls-handshakes-per-turn).",
           s.tls_handshakes_deferred);
}

void write_proxy(Exposition& e, const ServerStats& s) {
  e.single("wsring_proxy_headers_total", "counter", "PROXY protocol headers accepted.", s.proxy_headers);
  e.family("wsring_proxy_errors_total", "counter", "Connections reset for a bad PROXY header, by kind.");
  for (size_t i = 1; i < core::kProxyErrorKinds; ++i)
    e.sample({{"kind", core::proxy_error_name(core::ProxyError(i))}}, s.proxy_errors[i]);
  e.single("wsring_proxy_untrusted_total", "counter", "Connections on a PROXY listener from a peer not in --proxy-from.",
           s.proxy_untrusted);
  e.single("wsring_proxy_timeouts_total", "counter", "PROXY headers not complete within --handshake-timeout.",
           s.proxy_timeouts);
}

void write_fanout(Exposition& e, const ServerStats& s) {
  e.single("wsring_fanout_deliveries_total", "counter", "Shared frames queued to a receiver (--mode shootout, push, pubsub).",
           s.fanout_deliveries);
  e.single("wsring_fanout_skipped_total", "counter", "Messages a slow receiver skipped (--slow-receiver drop).",
           s.fanout_skipped);
  e.single("wsring_fanout_slow_receivers_closed_total", "counter", "Slow receivers closed (--slow-receiver close).",
           s.slow_receivers_closed);
  e.single("wsring_fanout_post_failures_total", "counter", "Frames another thread's full mailbox refused.",
           s.fanout_post_failures);
}

void write_deflate(Exposition& e, const ServerStats& s) {
  e.family("wsring_deflate_connections_total", "counter", "Connections that agreed to permessage-deflate, by --deflate mode.");
  e.sample({{"mode", "shared"}}, s.deflate_agreed[0]);
  e.sample({{"mode", "dedicated"}}, s.deflate_agreed[1]);
  e.single("wsring_deflate_messages_inflated_total", "counter", "Compressed messages received and inflated.",
           s.deflate_messages_inflated);
  e.single("wsring_deflate_inflated_in_bytes_total", "counter", "Compressed bytes of the messages inflated.",
           s.deflate_inflated_in_bytes);
  e.single("wsring_deflate_inflated_out_bytes_total", "counter", "Bytes of the messages inflated, after inflating.",
           s.deflate_inflated_out_bytes);
  e.single("wsring_deflate_messages_compressed_total", "counter", "Messages sent compressed.",
           s.deflate_messages_compressed);
  e.single("wsring_deflate_compressed_in_bytes_total", "counter", "Bytes of the messages sent compressed, before.",
           s.deflate_compressed_in_bytes);
  e.single("wsring_deflate_compressed_out_bytes_total", "counter", "Compressed bytes of the messages sent compressed.",
           s.deflate_compressed_out_bytes);
  e.single("wsring_deflate_limit_closes_total", "counter",
           "Connections closed 1009: a message inflated past --max-message-size.", s.deflate_limit_closes);
  e.family("wsring_deflate_echo_replies_total", "counter",
           "Echo replies to compressed messages: sent as the client compressed them (passed_through) or "
           "deflated again (recompressed).");
  e.sample({{"how", "passed_through"}}, s.deflate_replies_passed_through);
  e.sample({{"how", "recompressed"}}, s.deflate_replies_recompressed);
}

}  // namespace

void write_metrics(std::string& out, const ServerStats& stats, const ThreadGauges& gauges, const ProcessFigures& p,
                   unsigned threads, std::string_view version, std::string_view backend) {
  Exposition e(out);
  e.family("wsring_build_info", "gauge", "The wsring build: version, and the I/O backend it runs on.");
  e.sample({{"version", version}, {"backend", backend}}, uint64_t{1});
  e.single("wsring_reactor_threads", "gauge", "Reactor threads (--threads).", threads);
  e.single("wsring_draining", "gauge", "1 while the server drains its connections to stop.", p.draining ? 1 : 0);
  write_connections(e, stats, gauges);
  write_traffic(e, stats);
  write_resources(e, stats, gauges, p);
  write_tls(e, stats);
  write_proxy(e, stats);
  write_fanout(e, stats);
  write_deflate(e, stats);
}

}  // namespace wsring::server
