#include "bench/load/stages.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "server/cli_values.hpp"

namespace wsring::load {
namespace {

constexpr double kMaxStageConnections = 1u << 24;
constexpr double kMaxStageRate = 1e9;
constexpr double kMaxStageDuration = 1000 * 3600.0;

}  // namespace

bool parse_stage(std::string_view text, Stage& out, std::string& error) {
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    error = "expected DURATION:TARGETS such as 30s:1000c or 10s:100c:5000r, got " + cli::quoted(text);
    return false;
  }
  Stage stage;
  if (!cli::parse_duration(text.substr(0, colon), stage.duration_s) || stage.duration_s > kMaxStageDuration) {
    error = std::string("the stage's duration must be 0 to 1000h (") + cli::kDurationForms + "), got " +
            cli::quoted(text.substr(0, colon));
    return false;
  }
  std::string_view rest = text.substr(colon + 1);
  while (true) {
    const size_t next = rest.find(':');
    const std::string_view item = rest.substr(0, next);
    const char unit = item.empty() ? '\0' : item.back();
    double value = 0;
    const std::string_view number = item.substr(0, item.empty() ? 0 : item.size() - 1);
    uint64_t count = 0;
    if (unit == 'c' && cli::parse_count(number, count) && double(count) <= kMaxStageConnections) {
      if (stage.connections >= 0) {
        error = "connections given twice in " + cli::quoted(text);
        return false;
      }
      stage.connections = double(count);
    } else if (unit == 'r' && cli::parse_rate(number, value) && value <= kMaxStageRate) {
      if (stage.rate >= 0) {
        error = "a rate given twice in " + cli::quoted(text);
        return false;
      }
      stage.rate = value;
    } else {
      error = "a target is Nc (connections, 0 to 16777216) or Rr (messages/s, 0 to 10^9), got " + cli::quoted(item);
      return false;
    }
    if (next == std::string_view::npos) break;
    rest = rest.substr(next + 1);
  }
  out = stage;
  return true;
}

void StagePlan::add(const Stage& stage) {
  const double start = duration_s();
  const double c0 = spans_.empty() ? 0 : spans_.back().c1;
  const double r0 = spans_.empty() ? 0 : spans_.back().r1;
  const double before =
      spans_.empty() ? 0 : spans_.back().before + (spans_.back().r0 + spans_.back().r1) / 2 * spans_.back().duration_s;
  Span s{start, stage.duration_s, c0, stage.connections >= 0 ? stage.connections : c0, r0,
         stage.rate >= 0 ? stage.rate : r0, before};
  spans_.push_back(s);
  stages_.push_back(stage);
  ends_.push_back(start + stage.duration_s);
}

bool StagePlan::has_rate() const {
  for (const Stage& s : stages_)
    if (s.rate >= 0) return true;
  return false;
}

uint32_t StagePlan::max_connections() const {
  double m = 0;
  for (const Span& s : spans_) m = std::max({m, s.c0, s.c1});
  return uint32_t(m);
}

const StagePlan::Span* StagePlan::span_at(double t) const {
  // The last span that starts at or before t: at a boundary the next span starts from the value
  // the last one ended with, and a 0 s span holds its end value.
  const Span* found = spans_.empty() ? nullptr : &spans_[0];
  for (const Span& s : spans_) {
    if (s.start_s > t) break;
    found = &s;
  }
  return found;
}

uint32_t StagePlan::connections_at(double t) const {
  const Span* s = span_at(t);
  if (!s) return 0;
  const double f = s->duration_s > 0 ? std::clamp((t - s->start_s) / s->duration_s, 0.0, 1.0) : 1.0;
  return uint32_t(std::floor(s->c0 + (s->c1 - s->c0) * f + 0.5));
}

double StagePlan::rate_at(double t) const {
  const Span* s = span_at(t);
  if (!s) return 0;
  const double f = s->duration_s > 0 ? std::clamp((t - s->start_s) / s->duration_s, 0.0, 1.0) : 1.0;
  return s->r0 + (s->r1 - s->r0) * f;
}

double StagePlan::messages_by(double t) const {
  if (spans_.empty() || t <= 0) return 0;
  double total = 0;
  for (const Span& s : spans_) {
    if (t <= s.start_s) break;
    const double x = std::min(t - s.start_s, s.duration_s);
    const double slope = s.duration_s > 0 ? (s.r1 - s.r0) / s.duration_s : 0;
    total = s.before + s.r0 * x + slope * x * x / 2;
  }
  const Span& last = spans_.back();
  const double end = last.start_s + last.duration_s;
  if (t > end) total = last.before + (last.r0 + last.r1) / 2 * last.duration_s + last.r1 * (t - end);
  return total;
}

double StagePlan::time_of_message(uint64_t k) const {
  const double target = double(k) + 1;
  for (const Span& s : spans_) {
    const double after = s.before + (s.r0 + s.r1) / 2 * s.duration_s;
    if (target > after || s.duration_s == 0) continue;
    // Solve before + r0 x + (slope/2) x^2 = target for the smallest x in [0, duration].
    const double need = target - s.before;
    const double slope = (s.r1 - s.r0) / s.duration_s;
    double x;
    if (std::fabs(slope) < 1e-12) {
      x = need / s.r0;
    } else {
      // The numerically stable root of (slope/2) x^2 + r0 x - need = 0.
      const double disc = std::max(0.0, s.r0 * s.r0 + 2 * slope * need);
      x = 2 * need / (s.r0 + std::sqrt(disc));
    }
    return s.start_s + std::clamp(x, 0.0, s.duration_s);
  }
  const Span& last = spans_.back();
  const double end = last.start_s + last.duration_s;
  const double at_end = last.before + (last.r0 + last.r1) / 2 * last.duration_s;
  if (last.r1 <= 0) return std::numeric_limits<double>::infinity();
  return end + (target - at_end) / last.r1;
}

}  // namespace wsring::load
