// The end of a run: the summary table (stdout), the JSON document (--json, layout documented in
// bench/README.md) and the exit status.
#pragma once

#include <cstdio>
#include <string>

#include "bench/load/options.hpp"
#include "bench/load/stats.hpp"

namespace wsring::load {

struct RunReport {
  const LoadOptions* options = nullptr;
  std::string backend;           // the backend actually used
  WorkerTotals totals;           // merged over the workers
  double elapsed_s = 0;          // from the first connect to the last close
  double window_s = 0;           // the measured window (all connections open, traffic flowing)
  uint64_t window_messages = 0;  // echoes received within the window
  uint64_t window_bytes = 0;     // their payload bytes
  uint64_t window_handshakes = 0;
  uint64_t window_sent = 0;      // messages written within the window (--rate: the achieved rate)
  bool interrupted = false;      // stopped by a signal
  double load_cpu_user_s = 0;    // wsring-load's own CPU time (getrusage), to show it was not the bottleneck
  double load_cpu_system_s = 0;
  std::string extra_json;        // run_extras.hpp: members added before "exit_status" (each ending ",\n")
  int extra_exit_status = 0;     // run_extras.hpp: 1 when a --threshold failed
};

// 0 clean, 1 when anything went wrong: errors of any kind, mismatches, lost messages.
int exit_status(const WorkerTotals& totals);

void print_summary(std::FILE* out, const RunReport& report);
std::string format_json(const RunReport& report);
// Whether `path` can be written (created if absent, then removed again), checked before the run.
// False with `error` = one line naming `flag`.
bool check_writable(const char* flag, const std::string& path, std::string& error);

// A duration in microseconds with a unit that keeps it short: "850 us", "12.3 ms", "1.71 s".
std::string duration_text(double microseconds);

// Writes format_json() to `path`. False with `error` set on failure.
bool write_json(const std::string& path, const RunReport& report, std::string* error);
// Writes `text` to `path` (created or truncated). False with `error` set on failure.
bool write_text_file(const std::string& path, const std::string& text, std::string* error);

}  // namespace wsring::load
