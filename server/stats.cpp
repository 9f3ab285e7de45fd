#include "server/stats.hpp"

#include <iterator>

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
  for (size_t i = 0; i < std::size(tls_failures); ++i) tls_failures[i] += o.tls_failures[i];
  proxy_headers += o.proxy_headers;
  proxy_untrusted += o.proxy_untrusted;
  proxy_timeouts += o.proxy_timeouts;
  for (size_t i = 0; i < std::size(proxy_errors); ++i) proxy_errors[i] += o.proxy_errors[i];
  return *this;
}

namespace {

// "1 connection accepted", "2 connections accepted"; `plural` replaces the singular when given.
void count(std::string& out, uint64_t n, const char* singular, const char* plural, const char* rest) {
  if (!out.empty()) out += ", ";
  out += std::to_string(n);
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
static void append_proxy_summary(std::string& s, const ServerStats& st) {
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
    s += std::to_string(st.proxy_errors[i]);
    sep = ", ";
  }
  if (sep[0] == ',') s += ')';
}

std::string ServerStats::summary() const {
  std::string s;
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
  if (tls_handshakes || tls_failures_total()) {
    count(s, tls_handshakes, "TLS handshake", nullptr, "");
    count(s, tls_resumed, "resumed", "resumed", "");
    count(s, tls_failures_total(), "TLS failure", nullptr, "");
    const char* sep = " (";
    for (size_t i = 0; i < std::size(tls_failures); ++i) {
      if (!tls_failures[i]) continue;
      s += sep;
      s += tls_error_name(TlsError(i));
      s += ' ';
      s += std::to_string(tls_failures[i]);
      sep = ", ";
    }
    if (sep[0] == ',') s += ')';
  }
  append_proxy_summary(s, *this);
  return s;
}

}  // namespace wsring::server
