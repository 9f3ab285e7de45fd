// Metrics: what each reactor thread publishes for the admin listener, and the Prometheus text
// exposition of it.
//
// The hot path keeps counting into its thread's plain ServerStats (no atomics at all). Once per
// tick (every 50 ms) the engine copies them into its StatsBoard slot with relaxed atomic
// stores, together with its gauges and a heartbeat; a scrape on the admin thread reads the
// slots with relaxed loads. So a scrape sees counters at most one tick old, and costs the
// reactors nothing but that copy.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "server/stats.hpp"

namespace wsring::server {

// What a reactor thread knows besides its counters (a gauge is a value now, not a sum).
struct ThreadGauges {
  uint64_t open_connections = 0;
  uint64_t receive_buffers_in_use = 0;
  uint64_t receive_buffer_exhaustions = 0;  // a counter kept by the reactor (net/)
};

class StatsBoard {
 public:
  static constexpr size_t kStatWords = sizeof(ServerStats) / sizeof(uint64_t);
  static constexpr size_t kGaugeWords = sizeof(ThreadGauges) / sizeof(uint64_t);

  // `now_ms`: the monotonic clock (net::monotonic_ms) at start, the threads' first heartbeat.
  StatsBoard(unsigned threads, uint64_t now_ms);
  unsigned threads() const { return threads_; }

  // Called by reactor thread `thread` only (one writer per slot).
  void publish(unsigned thread, const ServerStats& stats, const ThreadGauges& gauges, uint64_t now_ms);

  // Any thread: the sums over every reactor thread as last published.
  ServerStats total_stats() const;
  ThreadGauges total_gauges() const;
  // The oldest heartbeat: every thread turned its loop since then.
  uint64_t oldest_heartbeat_ms() const;

  // SIGUSR1: a signal handler asks (async-signal-safe), reactor thread 0 writes the log lines.
  void request_dump() { dump_requested_.store(true, std::memory_order_relaxed); }
  bool take_dump_request() { return dump_requested_.exchange(false, std::memory_order_relaxed); }

 private:
  struct alignas(64) Slot {
    std::atomic<uint64_t> stats[kStatWords];
    std::atomic<uint64_t> gauges[kGaugeWords];
    std::atomic<uint64_t> heartbeat_ms;
  };
  unsigned threads_;
  std::unique_ptr<Slot[]> slots_;
  std::atomic<bool> dump_requested_{false};
};

// The Prometheus text format (version 0.0.4): one family at a time, HELP and TYPE first.
class Exposition {
 public:
  explicit Exposition(std::string& out) : out_(out) {}
  // type: "counter" or "gauge". Every sample that follows belongs to this family.
  void family(std::string_view name, const char* type, std::string_view help);
  // A sample of the current family; labels as pairs {"code", "1000"} (values escaped here).
  void sample(uint64_t value);
  void sample(double value);
  void sample(std::initializer_list<std::pair<std::string_view, std::string_view>> labels, uint64_t value);
  void sample(std::initializer_list<std::pair<std::string_view, std::string_view>> labels, double value);
  // The whole family with one unlabelled sample.
  void single(std::string_view name, const char* type, std::string_view help, uint64_t value) {
    family(name, type, help);
    sample(value);
  }

 private:
  void begin_sample(std::initializer_list<std::pair<std::string_view, std::string_view>> labels);
  std::string& out_;
  std::string name_;
};

// Process-wide facts read when a scrape comes.
struct ProcessFigures {
  double cpu_seconds = 0;        // user + system
  uint64_t resident_bytes = 0;
  uint64_t output_queued_bytes = 0;  // --max-memory in use (spilled and copied output)
  uint64_t output_memory_limit = 0;
  bool draining = false;
};
ProcessFigures read_process_figures(const SharedState& shared);

// The SIGUSR1 log line: the samples of an exposition as name{labels}=value, space separated,
// samples that are 0 left out.
std::string metrics_log_line(std::string_view exposition);

// Everything /metrics shows. `version`, `backend`: the wsring_build_info labels.
void write_metrics(std::string& out, const ServerStats& stats, const ThreadGauges& gauges, const ProcessFigures& p,
                   unsigned threads, std::string_view version, std::string_view backend);

// The close-code buckets of the close counters (kCloseCodeBuckets, stats.hpp).
size_t close_code_bucket(uint16_t code);  // 0: no code (an empty close, 1005)
const char* close_code_bucket_name(size_t bucket);

// The HTTP status buckets of refused upgrades (kHttpStatusBuckets).
size_t http_status_bucket(int status);
const char* http_status_bucket_name(size_t bucket);
const char* end_reason_name(size_t reason);  // EndReason's label

}  // namespace wsring::server
