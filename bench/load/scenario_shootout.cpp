#include "bench/load/scenario_shootout.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "server/cli_values.hpp"

namespace wsring::load {

const char kShootoutUsage[] =
    "\n"
    "--scenario shootout (the websocket-shootout broadcast step-up; bench/README.md):\n"
    "  --initial-clients N       clients of the first step (default: --connections)\n"
    "  --step-size N             clients added per step, 1 to 16777216 (default 1000)\n"
    "  --concurrent K            broadcasts in flight at once, 1 to 256 (default 4)\n"
    "  --sample-size S           broadcasts per step, 1 to 100000 (default 20)\n"
    "  --limit-percentile P      the RTT percentile held to the limit, 1 to 100 (default 95)\n"
    "  --limit-rtt DURATION      the step whose percentile RTT passes this ends the run (default 500ms)\n"
    "  --max-clients N           the step-up ends there without crossing (default 10000)\n"
    "  --shootout-format json|binary  the protocol variant (default json)\n"
    "  A broadcast's RTT runs from its send until the sender has the broadcastResult and every\n"
    "  client has received the broadcast.\n";

bool is_shootout_flag(std::string_view name) {
  for (const char* f : {"--initial-clients", "--step-size", "--concurrent", "--sample-size", "--limit-percentile",
                        "--limit-rtt", "--max-clients", "--shootout-format"})
    if (name == f) return true;
  return false;
}

ShootoutFlag parse_shootout_flag(std::string_view name, std::string_view value, ShootoutOptions& o,
                                 std::string& error) {
  const std::string flag(name);
  uint64_t n = 0;
  bool ok = true;
  if (name == "--initial-clients") {
    ok = cli::parse_count_flag(flag, value, 1, 1u << 24, n, error);
    o.initial_clients = uint32_t(n);
  } else if (name == "--step-size") {
    ok = cli::parse_count_flag(flag, value, 1, 1u << 24, n, error);
    o.step_size = uint32_t(n);
  } else if (name == "--concurrent") {
    ok = cli::parse_count_flag(flag, value, 1, 256, n, error);
    o.concurrent = uint32_t(n);
  } else if (name == "--sample-size") {
    ok = cli::parse_count_flag(flag, value, 1, 100000, n, error);
    o.sample_size = uint32_t(n);
  } else if (name == "--limit-percentile") {
    char* end = nullptr;
    const std::string text(value);
    const double p = text.empty() ? NAN : std::strtod(text.c_str(), &end);
    ok = end && *end == '\0' && p >= 1 && p <= 100;
    if (!ok) error = "--limit-percentile: expected a percentile from 1 to 100, got " + cli::quoted(value);
    else o.limit_percentile = p;
  } else if (name == "--limit-rtt") {
    ok = cli::parse_duration_flag(flag, value, 0.000001, 3600, o.limit_rtt_s, error);
  } else if (name == "--max-clients") {
    ok = cli::parse_count_flag(flag, value, 1, 1u << 24, n, error);
    o.max_clients = uint32_t(n);
  } else if (name == "--shootout-format") {
    if (value == "json") o.format = ShootoutFormat::Json;
    else if (value == "binary") o.format = ShootoutFormat::Binary;
    else {
      error = "--shootout-format: expected json or binary, got " + cli::quoted(value);
      ok = false;
    }
  } else {
    return ShootoutFlag::NotMine;
  }
  if (o.first_flag.empty()) o.first_flag = flag;
  return ok ? ShootoutFlag::Done : ShootoutFlag::Bad;
}

size_t encode_broadcast_request(ShootoutFormat format, uint64_t id, uint8_t* out) {
  if (format == ShootoutFormat::Binary) {
    out[0] = 'b';
    for (int i = 0; i < 8; ++i) out[1 + i] = uint8_t(id >> (8 * i));
    return 9;
  }
  const int n = std::snprintf(reinterpret_cast<char*>(out), kShootoutMessageMax,
                              "{\"type\":\"broadcast\",\"payload\":{\"id\":%llu}}", static_cast<unsigned long long>(id));
  return size_t(n);
}

namespace {

size_t skip_space(std::string_view s, size_t i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  return i;
}

// The position just after `"key"` and the ':' that follows it, or npos.
size_t find_member(std::string_view s, std::string_view quoted_key, size_t from = 0) {
  for (size_t at = s.find(quoted_key, from); at != std::string_view::npos; at = s.find(quoted_key, at + 1)) {
    const size_t colon = skip_space(s, at + quoted_key.size());
    if (colon < s.size() && s[colon] == ':') return skip_space(s, colon + 1);
  }
  return std::string_view::npos;
}

}  // namespace

ShootoutReply decode_shootout_reply(ShootoutFormat format, std::string_view m) {
  ShootoutReply r;
  if (format == ShootoutFormat::Binary) {
    if (m.empty()) return r;
    if (m[0] == 'b') r.kind = ShootoutReplyKind::Broadcast;
    else if (m[0] == 'r') r.kind = ShootoutReplyKind::Result;
    if (m.size() >= 9) {
      for (int i = 7; i >= 0; --i) r.id = r.id << 8 | uint8_t(m[1 + i]);
      r.has_id = true;
    }
    return r;
  }
  const size_t type = find_member(m, "\"type\"");
  if (type == std::string_view::npos) return r;
  if (m.substr(type, 17) == "\"broadcastResult\"") r.kind = ShootoutReplyKind::Result;
  else if (m.substr(type, 11) == "\"broadcast\"") r.kind = ShootoutReplyKind::Broadcast;
  const size_t payload = find_member(m, "\"payload\"");
  if (payload == std::string_view::npos) return r;
  size_t i = find_member(m, "\"id\"", payload);
  if (i == std::string_view::npos) return r;
  size_t digits = 0;
  for (; i < m.size() && m[i] >= '0' && m[i] <= '9' && digits < 19; ++i, ++digits) r.id = r.id * 10 + uint64_t(m[i] - '0');
  // A whole number: not the start of a fraction or an exponent, not longer than 19 digits.
  r.has_id = digits > 0 && (i == m.size() || std::string_view("0123456789.eE").find(m[i]) == std::string_view::npos);
  return r;
}

void BroadcastSlot::record_receipt(uint64_t now) {
  uint64_t seen = last_receipt_ns.load(std::memory_order_relaxed);
  while (seen < now && !last_receipt_ns.compare_exchange_weak(seen, now, std::memory_order_relaxed)) {
  }
  receipts.fetch_add(1, std::memory_order_acq_rel);
}

size_t shootout_capacity(const ShootoutOptions& o, uint32_t first_clients) {
  const uint64_t above = o.max_clients > first_clients ? o.max_clients - first_clients : 0;
  const uint64_t steps = 1 + (above + o.step_size - 1) / o.step_size;
  return size_t(steps * o.sample_size);
}

uint64_t nearest_rank(std::vector<uint64_t>& values, double percentile) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double rank = std::ceil(percentile / 100.0 * double(values.size()));
  const size_t index = rank < 1 ? 0 : std::min(values.size(), size_t(rank)) - 1;
  return values[index];
}

ShootoutStep summarize_step(uint32_t clients, std::vector<uint64_t>& rtt, std::vector<uint64_t>& result,
                            const ShootoutOptions& o) {
  ShootoutStep s;
  s.clients = clients;
  s.broadcasts = uint32_t(rtt.size());
  if (!rtt.empty()) {
    s.rtt_limit_ns = nearest_rank(rtt, o.limit_percentile);
    s.rtt_p50_ns = nearest_rank(rtt, 50);
    s.rtt_min_ns = rtt.front();
    s.rtt_max_ns = rtt.back();
  }
  s.result_limit_ns = nearest_rank(result, o.limit_percentile);
  s.result_p50_ns = nearest_rank(result, 50);
  s.crossed = double(s.rtt_limit_ns) > o.limit_rtt_s * 1e9;
  return s;
}

std::string percentile_key(double p) {
  char text[32];
  std::snprintf(text, sizeof text, "p%g", p);
  return text;
}

namespace {

std::string ms(uint64_t ns) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", double(ns) / 1e6);
  return text;
}

}  // namespace

std::string shootout_step_line(const ShootoutStep& s, size_t index, const ShootoutOptions& o) {
  char text[256];
  std::snprintf(text, sizeof text,
                "  step %3zu  %8u clients  %5u broadcasts  rtt min %s p50 %s %s %s max %s ms  (result %s %s ms)  "
                "lost %llu  duplicates %llu%s\n",
                index, s.clients, s.broadcasts, ms(s.rtt_min_ns).c_str(), ms(s.rtt_p50_ns).c_str(),
                percentile_key(o.limit_percentile).c_str(), ms(s.rtt_limit_ns).c_str(), ms(s.rtt_max_ns).c_str(),
                percentile_key(o.limit_percentile).c_str(), ms(s.result_limit_ns).c_str(),
                static_cast<unsigned long long>(s.lost), static_cast<unsigned long long>(s.duplicates),
                s.crossed ? "  LIMIT CROSSED" : "");
  return text;
}

std::string shootout_step_json(const ShootoutStep& s, const ShootoutOptions& o) {
  auto n = [](uint64_t v) { return std::to_string(v); };
  const std::string key = "\"" + percentile_key(o.limit_percentile) + "\": ";
  return "{\"clients\": " + n(s.clients) + ", \"broadcasts\": " + n(s.broadcasts) + ", \"rtt_ms\": {\"min\": " +
         ms(s.rtt_min_ns) + ", \"p50\": " + ms(s.rtt_p50_ns) + ", " + key + ms(s.rtt_limit_ns) +
         ", \"max\": " + ms(s.rtt_max_ns) + "}, \"result_rtt_ms\": {\"p50\": " + ms(s.result_p50_ns) +
         ", " + key + ms(s.result_limit_ns) + "}, \"lost\": " + n(s.lost) + ", \"duplicates\": " +
         n(s.duplicates) + ", \"crossed\": " + (s.crossed ? "true" : "false") + "}";
}

}  // namespace wsring::load
