// Pass/fail conditions on a run's results (`--threshold`), evaluated at the end.
//
// Grammar: METRIC OP VALUE, spaces allowed around OP.
//   METRIC  latency (of the echoes, microseconds): p50 p90 p99 p99.9 (p999) p99.99 (p9999) min max mean
//           counts: errors (all kinds), connect_failures (attempts that failed before the upgrade),
//                   lost, mismatched
//           rate: achieved echoes per second in the measured window
//   OP      <  <=  >  >=  ==
//   VALUE   a number; latency takes a unit (ns, us, ms, s; a bare number is microseconds),
//           rate may end in /s.
// Examples: p99<5ms, p99.9 <= 800us, errors==0, rate>=50000, connect_failures==0.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bench/load/histogram.hpp"

namespace wsring::load {

enum class ThresholdOp : uint8_t { Less, LessEqual, Greater, GreaterEqual, Equal };

struct Threshold {
  std::string text;    // as given
  std::string metric;  // canonical name: "p99", "p99.9", "errors", "rate", ...
  ThresholdOp op = ThresholdOp::Less;
  double limit = 0;    // microseconds for latency metrics
};

// False with `error` set (what is wrong, without the flag name) on bad input.
bool parse_threshold(std::string_view text, Threshold& out, std::string* error);

// The figures thresholds are checked against.
struct ThresholdFigures {
  const LatencyHistogram* latency_us = nullptr;
  uint64_t errors = 0, connect_failures = 0, lost = 0, mismatched = 0;
  double rate = 0;  // echoes/s in the measured window
};

struct ThresholdResult {
  Threshold threshold;
  double actual = 0;
  bool pass = false;
};

std::vector<ThresholdResult> evaluate_thresholds(const std::vector<Threshold>& thresholds, const ThresholdFigures& f);
bool all_pass(const std::vector<ThresholdResult>& results);
const char* threshold_op_text(ThresholdOp op);
bool is_latency_metric(const std::string& metric);

void print_threshold_table(std::FILE* out, const std::vector<ThresholdResult>& results);
// [{"threshold": "p99<5ms", "metric": "p99", "op": "<", "limit": 5000, "actual": 812, "unit": "us", "pass": true}, ...]
std::string thresholds_json(const std::vector<ThresholdResult>& results);

}  // namespace wsring::load
