#include "bench/load/thresholds.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "server/cli_values.hpp"

namespace wsring::load {
namespace {

struct LatencyMetric {
  const char* name;
  const char* alias;
  double percentile;  // < 0: not a percentile (min, max, mean)
};

constexpr LatencyMetric kLatencyMetrics[] = {
    {"p50", nullptr, 50},       {"p90", nullptr, 90},  {"p99", nullptr, 99}, {"p99.9", "p999", 99.9},
    {"p99.99", "p9999", 99.99}, {"min", nullptr, -1},  {"max", nullptr, -2}, {"mean", nullptr, -3},
};
constexpr const char* kCountMetrics[] = {"errors", "connect_failures", "lost", "mismatched"};

const LatencyMetric* find_latency(std::string_view name) {
  for (const LatencyMetric& m : kLatencyMetrics)
    if (name == m.name || (m.alias && name == m.alias)) return &m;
  return nullptr;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

// "5ms", "800us", "2.5", "1s", "300ns" -> microseconds.
bool parse_latency(std::string_view text, double& us) {
  struct Unit {
    const char* suffix;
    double scale;
  };
  static constexpr Unit kUnits[] = {{"ns", 0.001}, {"us", 1}, {"ms", 1000}, {"s", 1e6}};
  double scale = 1;
  for (const Unit& u : kUnits) {
    const std::string_view suffix(u.suffix);
    if (text.size() > suffix.size() && text.substr(text.size() - suffix.size()) == suffix) {
      text.remove_suffix(suffix.size());
      scale = u.scale;
      break;
    }
  }
  if (text.empty() || !(std::isdigit(uint8_t(text.front())) || text.front() == '.')) return false;
  const std::string s(text);
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(v) || v < 0) return false;
  us = v * scale;
  return true;
}

}  // namespace

const char* threshold_op_text(ThresholdOp op) {
  switch (op) {
    case ThresholdOp::Less: return "<";
    case ThresholdOp::LessEqual: return "<=";
    case ThresholdOp::Greater: return ">";
    case ThresholdOp::GreaterEqual: return ">=";
    case ThresholdOp::Equal: return "==";
  }
  return "?";
}

bool is_latency_metric(const std::string& metric) { return find_latency(metric) != nullptr; }

bool parse_threshold(std::string_view text, Threshold& out, std::string* error) {
  auto fail = [&](const std::string& why) {
    if (error) *error = why + " in '" + std::string(text) + "' (expected METRIC OP VALUE, e.g. p99<5ms, errors==0, rate>=50000)";
    return false;
  };
  const size_t op_at = text.find_first_of("<>=");
  if (op_at == std::string_view::npos) return fail("no operator (<, <=, >, >=, ==)");
  const std::string_view metric = trim(text.substr(0, op_at));
  std::string_view rest = text.substr(op_at);
  ThresholdOp op;
  if (rest.substr(0, 2) == "<=") op = ThresholdOp::LessEqual, rest.remove_prefix(2);
  else if (rest.substr(0, 2) == ">=") op = ThresholdOp::GreaterEqual, rest.remove_prefix(2);
  else if (rest.substr(0, 2) == "==") op = ThresholdOp::Equal, rest.remove_prefix(2);
  else if (rest[0] == '<') op = ThresholdOp::Less, rest.remove_prefix(1);
  else if (rest[0] == '>') op = ThresholdOp::Greater, rest.remove_prefix(1);
  else return fail("'=' is not an operator (use ==)");
  const std::string_view value = trim(rest);
  if (value.empty()) return fail("no value");
  if (value.find_first_of("<>=") != std::string_view::npos) return fail("more than one operator");
  Threshold t;
  t.text = std::string(text);
  t.op = op;
  if (const LatencyMetric* m = find_latency(metric)) {
    t.metric = m->name;
    if (!parse_latency(value, t.limit)) return fail("bad latency '" + std::string(value) + "' (a number with ns, us, ms or s)");
  } else if (metric == "rate") {
    t.metric = "rate";
    if (!cli::parse_rate(value, t.limit)) return fail("bad rate '" + std::string(value) + "' (messages per second)");
  } else {
    bool known = false;
    for (const char* name : kCountMetrics) known = known || metric == name;
    if (!known)
      return fail("unknown metric '" + std::string(metric) +
                  "' (p50, p90, p99, p99.9, p99.99, min, max, mean, errors, connect_failures, lost, mismatched, rate)");
    t.metric = std::string(metric);
    uint64_t n = 0;
    if (!cli::parse_count(value, n)) return fail("bad count '" + std::string(value) + "' (a whole number)");
    t.limit = double(n);
  }
  out = std::move(t);
  return true;
}

std::vector<ThresholdResult> evaluate_thresholds(const std::vector<Threshold>& thresholds, const ThresholdFigures& f) {
  std::vector<ThresholdResult> results;
  for (const Threshold& t : thresholds) {
    ThresholdResult r;
    r.threshold = t;
    if (const LatencyMetric* m = find_latency(t.metric)) {
      const LatencyHistogram& h = *f.latency_us;
      if (m->percentile >= 0) r.actual = double(h.percentile(m->percentile));
      else if (m->percentile == -1) r.actual = double(h.min());
      else if (m->percentile == -2) r.actual = double(h.max());
      else r.actual = h.mean();
    } else if (t.metric == "rate") {
      r.actual = f.rate;
    } else if (t.metric == "errors") {
      r.actual = double(f.errors);
    } else if (t.metric == "connect_failures") {
      r.actual = double(f.connect_failures);
    } else if (t.metric == "lost") {
      r.actual = double(f.lost);
    } else if (t.metric == "mismatched") {
      r.actual = double(f.mismatched);
    }
    switch (t.op) {
      case ThresholdOp::Less: r.pass = r.actual < t.limit; break;
      case ThresholdOp::LessEqual: r.pass = r.actual <= t.limit; break;
      case ThresholdOp::Greater: r.pass = r.actual > t.limit; break;
      case ThresholdOp::GreaterEqual: r.pass = r.actual >= t.limit; break;
      case ThresholdOp::Equal: r.pass = r.actual == t.limit; break;
    }
    // A latency threshold on a run without a single echo has nothing to pass on.
    if (find_latency(t.metric) && f.latency_us->count() == 0) r.pass = false;
    results.push_back(std::move(r));
  }
  return results;
}

bool all_pass(const std::vector<ThresholdResult>& results) {
  for (const ThresholdResult& r : results)
    if (!r.pass) return false;
  return true;
}

void print_threshold_table(std::FILE* out, const std::vector<ThresholdResult>& results) {
  if (results.empty()) return;
  std::fprintf(out, "\n  %-28s %16s %16s  %s\n", "threshold", "limit", "actual", "result");
  for (const ThresholdResult& r : results) {
    const bool latency = is_latency_metric(r.threshold.metric);
    const char* unit = latency ? " us" : r.threshold.metric == "rate" ? " /s" : "";
    std::fprintf(out, "  %-28s %13.1f%-3s %13.1f%-3s  %s\n", r.threshold.text.c_str(), r.threshold.limit, unit, r.actual,
                 unit, r.pass ? "pass" : "FAIL");
  }
  std::fprintf(out, "  thresholds     %s\n", all_pass(results) ? "all passed" : "FAILED (exit status 1)");
}

std::string thresholds_json(const std::vector<ThresholdResult>& results) {
  std::string j = "[";
  for (size_t i = 0; i < results.size(); ++i) {
    const ThresholdResult& r = results[i];
    std::string text;
    for (char c : r.threshold.text) {
      if (c == '"' || c == '\\') text += '\\';
      if (uint8_t(c) >= 0x20) text += c;
    }
    char numbers[128];
    snprintf(numbers, sizeof numbers, "\"limit\": %.3f, \"actual\": %.3f", r.threshold.limit, r.actual);
    const char* unit = is_latency_metric(r.threshold.metric) ? "us" : r.threshold.metric == "rate" ? "msg/s" : "count";
    j += std::string(i ? ", " : "") + "{\"threshold\": \"" + text + "\", \"metric\": \"" + r.threshold.metric +
         "\", \"op\": \"" + threshold_op_text(r.threshold.op) + "\", " + numbers + ", \"unit\": \"" + unit +
         "\", \"pass\": " + (r.pass ? "true" : "false") + "}";
  }
  return j + "]";
}

}  // namespace wsring::load
