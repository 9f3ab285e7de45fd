#include "bench/load/run_extras.hpp"

#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>


#include "bench/load/hdr_log.hpp"
#include "bench/load/html_report.hpp"
#include "bench/load/report.hpp"

namespace wsring::load {
namespace {

std::string number_text(double v, const char* format = "%.3f") {
  char text[64];
  snprintf(text, sizeof text, format, v);
  return text;
}

HtmlReport html_of_run(const LoadOptions& o, const RunReport& r, const Timeline& timeline,
                       const std::vector<ThresholdResult>& thresholds) {
  HtmlReport h;
  h.title = "wsring-load " + o.url_text;
  h.parameters = {{"url", o.url_text},
                  {"connections", std::to_string(o.connections)},
                  {o.messages ? "messages" : "duration", o.messages ? std::to_string(o.messages) : number_text(o.duration_s, "%g s")},
                  {"size", std::to_string(o.size_min) + (o.size_max != o.size_min ? "-" + std::to_string(o.size_max) : "") + " B"},
                  {"type", o.text ? "text" : "binary"},
                  {"pipeline", std::to_string(o.pipeline)},
                  {"rate", o.rate > 0 ? number_text(o.rate, "%g msg/s (open loop)") : "closed loop"},
                  {"threads", std::to_string(o.threads)},
                  {"backend", r.backend}};
  if (o.shard.count > 1)
    h.parameters.emplace_back("shard", std::to_string(o.shard.index) + " of " + std::to_string(o.shard.count) + " (" +
                                           std::to_string(o.connections_total) + " connections in all)");
  const WorkerTotals& t = r.totals;
  h.results = {{"measured window", number_text(r.window_s, "%.2f s")},
               {"echoes/s", number_text(r.window_s > 0 ? double(r.window_messages) / r.window_s : 0, "%.0f")},
               {"sent", std::to_string(t.sent)},
               {"received", std::to_string(t.received)},
               {"lost", std::to_string(t.lost)},
               {"errors", std::to_string(t.error_total())},
               {"latency p50 / p99 / max (us)", std::to_string(t.latency_us.percentile(50)) + " / " +
                                                    std::to_string(t.latency_us.percentile(99)) + " / " +
                                                    std::to_string(t.latency_us.max())}};
  h.timeline = timeline.points();
  h.latency = &t.latency_us;
  h.thresholds = thresholds;
  return h;
}

}  // namespace

bool is_extra_valued_flag(std::string_view name) {
  return name == "--threshold" || name == "--hdr-log" || name == "--report" || name == "--shard" || name == "--start-at";
}

bool check_output_paths(const LoadOptions& o, std::string& error) {
  const std::pair<const char*, const std::string*> outputs[] = {
      {"--json", &o.json_path}, {"--hdr-log", &o.hdr_log_path}, {"--report", &o.report_path}};
  for (const auto& [flag, path] : outputs) {
    if (path->empty() || (path == &o.json_path && o.json_stdout())) continue;
    if (!check_writable(flag, *path, error)) return false;
  }
  return true;
}

double unix_now_s() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

bool parse_extra_flag(std::string_view name, std::string_view value, LoadOptions& o, std::string& error) {
  const std::string flag(name);
  if (name == "--threshold") {
    Threshold t;
    if (!parse_threshold(value, t, &error)) {
      error = "--threshold: " + error;
      return false;
    }
    o.thresholds.push_back(std::move(t));
  } else if (name == "--hdr-log" || name == "--report") {
    if (value.empty()) {
      error = flag + ": expected a file name";
      return false;
    }
    (name == "--hdr-log" ? o.hdr_log_path : o.report_path) = std::string(value);
  } else if (name == "--shard") {
    if (!parse_shard(value, o.shard, &error)) {
      error = "--shard: " + error + " (got '" + std::string(value) + "')";
      return false;
    }
  } else if (name == "--start-at") {
    double start = 0;
    if (!parse_start_time(value, start)) {
      error = "--start-at: expected seconds since the Unix epoch or an ISO-8601 time with a zone "
              "(2026-01-01T12:00:00Z), got '" + std::string(value) + "'";
      return false;
    }
    if (!check_start_time(start, unix_now_s(), &error)) {
      error = "--start-at: " + std::string(value) + ": " + error;
      return false;
    }
    o.start_at_unix_s = start;
  }
  return true;
}

bool finish_extra_options(LoadOptions& o, std::string& error) {
  o.connections_total = o.connections;
  o.messages_total = o.messages;
  o.rate_total = o.rate;
  if (o.shard.count <= 1) return true;
  const std::string which = "shard " + std::to_string(o.shard.index) + " of " + std::to_string(o.shard.count);
  const uint64_t connections = shard_share(o.connections, o.shard);
  if (connections == 0) {
    error = "--shard: " + which + " gets none of the " + std::to_string(o.connections) +
            " connections (give at least as many connections as shards)";
    return false;
  }
  if (o.messages) {
    const uint64_t messages = shard_share(o.messages, o.shard);
    if (messages == 0) {
      error = "--shard: " + which + " gets none of the " + std::to_string(o.messages) + " messages";
      return false;
    }
    o.messages = messages;
  }
  o.rate = shard_rate(o.rate, o.connections, o.shard);
  o.connect_rate = shard_rate(o.connect_rate, o.connections, o.shard);
  o.connections = uint32_t(connections);
  return true;
}

bool wait_for_start(const LoadOptions& o, const std::atomic<int>& signals) {
  if (o.start_at_unix_s <= 0) return true;
  const double wait = o.start_at_unix_s - unix_now_s();
  if (wait > 0 && !o.quiet) std::fprintf(stderr, "wsring-load: waiting %.3f s for --start-at\n", wait);
  for (;;) {
    if (signals.load(std::memory_order_relaxed) > 0) return false;
    const double left = o.start_at_unix_s - unix_now_s();
    if (left <= 0) return true;
    const double step = std::min(left, 0.05);  // short steps: Ctrl-C is seen at once
    timespec ts{time_t(step), long((step - double(time_t(step))) * 1e9)};
    nanosleep(&ts, nullptr);
  }
}

void print_progress_line(std::FILE* out, const LoadOptions& o, const TimelinePoint& p, const LatencySummary& latency,
                         uint64_t in_flight, const char* phase) {
  const double end = p.start_s + p.length_s;
  const double dt = p.length_s > 0 ? p.length_s : 1;
  if (o.handshake_only) {
    std::fprintf(out, "[%6.1fs] %9.0f handshakes/s  open %llu  errors %llu%s\n", end, double(p.opened) / dt,
                 (unsigned long long)p.connections, (unsigned long long)p.errors, phase);
    return;
  }
  char lat[96] = "";
  if (latency.count)
    snprintf(lat, sizeof lat, "  p50 %llu p99 %llu max %llu us", (unsigned long long)latency.p50,
             (unsigned long long)latency.p99, (unsigned long long)latency.max);
  std::fprintf(out, "[%6.1fs] %10.0f msg/s %9.2f MB/s  open %llu  in flight %llu  errors %llu%s%s\n", end,
               double(p.received) / dt, double(p.bytes_received) / dt / 1e6, (unsigned long long)p.connections,
               (unsigned long long)in_flight, (unsigned long long)p.errors, lat, phase);
}

std::string timeline_hdr_log(const std::vector<TimelinePoint>& points, double start_unix_s) {
  std::string text = hdr_log_header(start_unix_s);
  LatencyHistogram h;
  for (const TimelinePoint& p : points) {
    h.reset();
    add_hdr_counts(p.counts, h, nullptr);
    text += hdr_log_line("", p.start_s, p.length_s, h);
  }
  return text;
}

bool finish_run_extras(std::FILE* out, const LoadOptions& o, RunReport& report, const Timeline& timeline,
                       double start_unix_s, std::string* error) {
  const WorkerTotals& t = report.totals;
  ThresholdFigures figures;
  figures.latency_us = &t.latency_us;
  figures.errors = t.error_total();
  figures.connect_failures = t.failed;
  figures.lost = t.lost;
  figures.mismatched = t.mismatched;
  figures.rate = report.window_s > 0 ? double(report.window_messages) / report.window_s : 0;
  const std::vector<ThresholdResult> results = evaluate_thresholds(o.thresholds, figures);
  print_threshold_table(out, results);
  std::fflush(out);
  report.extra_exit_status = all_pass(results) ? 0 : 1;

  std::string& j = report.extra_json;
  j += "  \"start_unix_s\": " + number_text(start_unix_s) + ",\n";
  if (o.shard.count > 1)
    j += "  \"shard\": {\"index\": " + std::to_string(o.shard.index) + ", \"count\": " + std::to_string(o.shard.count) +
         ", \"connections_total\": " + std::to_string(o.connections_total) + ", \"messages_total\": " +
         (o.messages_total ? std::to_string(o.messages_total) : std::string("null")) +
         ", \"rate_total\": " + (o.rate_total > 0 ? number_text(o.rate_total) : std::string("null")) + "},\n";
  else
    j += "  \"shard\": null,\n";
  j += "  \"timeline\": " + timeline_json(timeline.points()) + ",\n";
  j += "  \"thresholds\": " + thresholds_json(results) + ",\n";
  j += std::string("  \"thresholds_passed\": ") + (all_pass(results) ? "true" : "false") + ",\n";

  if (!o.hdr_log_path.empty() && !write_text_file(o.hdr_log_path, timeline_hdr_log(timeline.points(), start_unix_s), error))
    return false;
  if (!o.report_path.empty() &&
      !write_text_file(o.report_path, render_html_report(html_of_run(o, report, timeline, results)), error))
    return false;
  return true;
}

}  // namespace wsring::load
