#include "server/stats.hpp"

#include <iterator>

#include "server/log.hpp"
#include "server/tls_session.hpp"

namespace wsring::server {

ServerStats& ServerStats::operator+=(const ServerStats& o) {
  accepted += o.accepted;
  refused_over_limit += o.refused_over_limit;
  upgraded += o.upgraded;
  http_errors += o.http_errors;
  pages_served += o.pages_served;
  messages_echoed += o.messages_echoed;
  protocol_errors += o.protocol_errors;
  handshake_timeouts += o.handshake_timeouts;
  idle_timeouts += o.idle_timeouts;
  send_timeouts += o.send_timeouts;
  frame_timeouts += o.frame_timeouts;
  pool_exhausted += o.pool_exhausted;
  memory_refusals += o.memory_refusals;
  requests_evicted += o.requests_evicted;
  receives += o.receives;
  sends += o.sends;
  spills += o.spills;
  tls_handshakes += o.tls_handshakes;
  tls_resumed += o.tls_resumed;
  tls_offloaded += o.tls_offloaded;
  tls_handshakes_deferred += o.tls_handshakes_deferred;
  for (size_t i = 0; i < std::size(tls_failures); ++i) tls_failures[i] += o.tls_failures[i];
  // --- metrics ---
  bytes_received += o.bytes_received;
  bytes_sent += o.bytes_sent;
  messages_sent += o.messages_sent;
  recv_pauses += o.recv_pauses;
  connections_closed += o.connections_closed;
  for (size_t i = 0; i < kEndReasons; ++i) closed_by_reason[i] += o.closed_by_reason[i];
  for (size_t i = 0; i < kCloseCodeBuckets; ++i) close_codes_sent[i] += o.close_codes_sent[i];
  for (size_t i = 0; i < kCloseCodeBuckets; ++i) close_codes_received[i] += o.close_codes_received[i];
  for (size_t i = 0; i < kHttpStatusBuckets; ++i) upgrade_failures[i] += o.upgrade_failures[i];
  // --- end metrics ---
  // --- fan-out
  fanout_deliveries += o.fanout_deliveries;
  fanout_skipped += o.fanout_skipped;
  slow_receivers_closed += o.slow_receivers_closed;
  fanout_post_failures += o.fanout_post_failures;
  // --- end fan-out
  proxy_headers += o.proxy_headers;
  proxy_untrusted += o.proxy_untrusted;
  proxy_timeouts += o.proxy_timeouts;
  for (size_t i = 0; i < std::size(proxy_errors); ++i) proxy_errors[i] += o.proxy_errors[i];
  // --- permessage-deflate
  for (size_t i = 0; i < std::size(deflate_agreed); ++i) deflate_agreed[i] += o.deflate_agreed[i];
  deflate_messages_inflated += o.deflate_messages_inflated;
  deflate_inflated_in_bytes += o.deflate_inflated_in_bytes;
  deflate_inflated_out_bytes += o.deflate_inflated_out_bytes;
  deflate_messages_compressed += o.deflate_messages_compressed;
  deflate_compressed_in_bytes += o.deflate_compressed_in_bytes;
  deflate_compressed_out_bytes += o.deflate_compressed_out_bytes;
  deflate_limit_closes += o.deflate_limit_closes;
  deflate_replies_passed_through += o.deflate_replies_passed_through;
  deflate_replies_recompressed += o.deflate_replies_recompressed;
  // --- end permessage-deflate
  return *this;
}

namespace {

// "1 connection accepted", "2 connections accepted"; `plural` replaces the singular when given.
void count(LogLine& out, uint64_t n, const char* singular, const char* plural, const char* rest) {
  if (!out.empty()) out += ", ";
  out += DecimalField(n);
  out += ' ';
  if (n == 1) {
    out += singular;
  } else if (plural) {
    out += plural;
  } else {
    out += singular;
    out += 's';
  }
  out += rest;
}

}  // namespace

uint64_t ServerStats::tls_failures_total() const {
  uint64_t n = 0;
  for (uint64_t f : tls_failures) n += f;
  return n;
}

uint64_t ServerStats::proxy_errors_total() const {
  uint64_t n = 0;
  for (uint64_t e : proxy_errors) n += e;
  return n;
}

// The PROXY protocol part of the summary, when a PROXY listener saw any connection.
static void append_proxy_summary(LogLine& s, const ServerStats& st) {
  if (!st.proxy_headers && !st.proxy_untrusted && !st.proxy_timeouts && !st.proxy_errors_total()) return;
  count(s, st.proxy_headers, "PROXY header", nullptr, "");
  count(s, st.proxy_untrusted, "untrusted PROXY peer", nullptr, "");
  count(s, st.proxy_timeouts, "PROXY timeout", nullptr, "");
  count(s, st.proxy_errors_total(), "bad PROXY header", nullptr, "");
  const char* sep = " (";
  for (size_t i = 0; i < std::size(st.proxy_errors); ++i) {
    if (!st.proxy_errors[i]) continue;
    s += sep;
    s += core::proxy_error_name(core::ProxyError(i));
    s += ' ';
    s += DecimalField(st.proxy_errors[i]);
    sep = ", ";
  }
  if (sep[0] == ',') s += ')';
}

void ServerStats::summary(LogLine& s) const {
  count(s, accepted, "connection", nullptr, " accepted");
  count(s, upgraded, "upgraded", "upgraded", "");
  count(s, messages_echoed, "message", nullptr, " echoed");
  count(s, http_errors, "HTTP error", nullptr, "");
  count(s, pages_served, "page", nullptr, " served");
  count(s, protocol_errors, "protocol error", nullptr, "");
  count(s, refused_over_limit, "refused over the limit", "refused over the limit", "");
  count(s, handshake_timeouts, "handshake timeout", nullptr, "");
  count(s, idle_timeouts, "idle timeout", nullptr, "");
  count(s, send_timeouts, "send timeout", nullptr, "");
  count(s, frame_timeouts, "frame timeout", nullptr, "");
  count(s, pool_exhausted, "pool exhaustion", "pool exhaustions", "");
  count(s, memory_refusals, "memory refusal", nullptr, "");
  count(s, requests_evicted, "request", nullptr, " evicted");
  count(s, receives, "receive", nullptr, "");
  count(s, sends, "send", nullptr, "");
  count(s, spills, "spill", nullptr, "");
  if (tls_handshakes || tls_handshakes_deferred || tls_failures_total()) {
    count(s, tls_handshakes, "TLS handshake", nullptr, "");
    count(s, tls_resumed, "resumed", "resumed", "");
    count(s, tls_offloaded, "offloaded", "offloaded", "");
    count(s, tls_handshakes_deferred, "handshake", nullptr, " deferred");
    count(s, tls_failures_total(), "TLS failure", nullptr, "");
    const char* sep = " (";
    for (size_t i = 0; i < std::size(tls_failures); ++i) {
      if (!tls_failures[i]) continue;
      s += sep;
      s += tls_error_name(TlsError(i));
      s += ' ';
      s += DecimalField(tls_failures[i]);
      sep = ", ";
    }
    if (sep[0] == ',') s += ')';
  }
  // --- fan-out
  if (fanout_deliveries || fanout_skipped || slow_receivers_closed || fanout_post_failures) {
    count(s, fanout_deliveries, "fan-out delivery", "fan-out deliveries", "");
    count(s, fanout_skipped, "skipped by a slow receiver", "skipped by slow receivers", "");
    count(s, slow_receivers_closed, "slow receiver closed", "slow receivers closed", "");
    count(s, fanout_post_failures, "cross-thread post refused", "cross-thread posts refused", "");
  }
  // --- end fan-out
  // --- permessage-deflate
  if (deflate_replies_passed_through || deflate_replies_recompressed) {
    count(s, deflate_replies_passed_through, "compressed reply", "compressed replies", " passed through");
    count(s, deflate_replies_recompressed, "compressed reply", "compressed replies", " deflated again");
  }
  // --- end permessage-deflate
  append_proxy_summary(s, *this);
}

}  // namespace wsring::server
