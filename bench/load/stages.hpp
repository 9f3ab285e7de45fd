// --stage: a run in stages, as k6 has them. Each stage lasts its duration and moves its targets
// (connections and/or a message rate) linearly from where the previous stage ended to its own
// values, so `--stage 30s:1000c --stage 1m:1000c --stage 10s:0c` ramps up, holds, ramps down. The
// plan starts at 0 connections and a rate of 0; a stage of 0s jumps; a stage that leaves out a
// target keeps the previous one.
//
// STAGE is DURATION:TARGETS with TARGETS one or both of Nc (connections) and Rr (messages/s),
// e.g. 30s:1000c, 10s:100c:5000r, 1m:2000r.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace wsring::load {

struct Stage {
  double duration_s = 0;
  double connections = -1;  // < 0: keep the previous target
  double rate = -1;         // < 0: keep the previous target
};

// Parses one --stage value. False with `error` set (one line, without the flag's name).
bool parse_stage(std::string_view text, Stage& out, std::string& error);

class StagePlan {
 public:
  void add(const Stage& stage);
  bool empty() const { return stages_.empty(); }
  size_t size() const { return stages_.size(); }
  double duration_s() const { return ends_.empty() ? 0 : ends_.back(); }
  bool has_rate() const;                 // some stage sets a rate
  uint32_t max_connections() const;

  // The targets at t seconds into the plan (after its end: the last stage's values). Connections
  // are the linear target rounded to the nearest whole number (halves up), so each boundary is
  // met exactly.
  uint32_t connections_at(double t) const;
  double rate_at(double t) const;
  // Messages due in [0, t): the integral of the rate. Exact at every stage boundary whatever the
  // stages before (a sum of trapezoids, nothing rounded along the way).
  double messages_by(double t) const;
  // The time message k (from 0) is due: the t with messages_by(t) == k + 1... more precisely the
  // smallest t at which k + 1 messages are due, so message 0 goes out once the first whole
  // message has accrued. Infinity when the plan never gets there.
  double time_of_message(uint64_t k) const;

 private:
  struct Span {
    double start_s, duration_s;
    double c0, c1;  // connections at the start and the end
    double r0, r1;  // rate at the start and the end
    double before;  // messages due before the span
  };
  const Span* span_at(double t) const;
  std::vector<Span> spans_;
  std::vector<Stage> stages_;
  std::vector<double> ends_;
};

}  // namespace wsring::load
