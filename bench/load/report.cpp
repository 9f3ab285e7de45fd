#include "bench/load/report.hpp"

#include "bench/load/worker.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace wsring::load {
namespace {

double per_second(uint64_t count, double seconds) { return seconds > 0 ? double(count) / seconds : 0.0; }

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (unsigned char ch : text) {
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (ch < 0x20) {
          char buf[8];
          snprintf(buf, sizeof buf, "\\u%04x", ch);
          out += buf;
        } else {
          out += char(ch);
        }
    }
  }
  return out + "\"";
}

std::string number(double value) {
  char buf[64];
  snprintf(buf, sizeof buf, "%.3f", value);
  return buf;
}

std::string number(uint64_t value) { return std::to_string(value); }

std::string distribution_json(const LatencyHistogram& h) {
  return "{\"count\": " + number(h.count()) + ", \"min\": " + number(h.min()) + ", \"mean\": " + number(h.mean()) +
         ", \"p50\": " + number(h.percentile(50)) + ", \"p90\": " + number(h.percentile(90)) +
         ", \"p99\": " + number(h.percentile(99)) + ", \"p999\": " + number(h.percentile(99.9)) +
         ", \"p9999\": " + number(h.percentile(99.99)) + ", \"max\": " + number(h.max()) + "}";
}

void print_distribution(std::FILE* out, const char* name, const LatencyHistogram& h) {
  if (h.count() == 0) {
    std::fprintf(out, "  %-14s (none)\n", name);
    return;
  }
  std::fprintf(out, "  %-14s %10s %10s %10s %10s %10s %10s %10s\n", name,
               duration_text(double(h.percentile(50))).c_str(), duration_text(double(h.percentile(90))).c_str(),
               duration_text(double(h.percentile(99))).c_str(), duration_text(double(h.percentile(99.9))).c_str(),
               duration_text(double(h.percentile(99.99))).c_str(), duration_text(double(h.max())).c_str(),
               duration_text(h.mean()).c_str());
}

// ---- any server, mixes, open loop, reconnects: their lines of the summary and the JSON ----
// --rate, or for --stage with rates the plan's mean rate (its messages over its length).
double stage_or_flat_rate(const LoadOptions& o) {
  if (o.rate > 0) return o.rate;
  if (!o.stages.has_rate() || o.stages.duration_s() <= 0) return 0;
  return o.stages.messages_by(o.stages.duration_s()) / o.stages.duration_s();
}

void print_any_server(std::FILE* out, const RunReport& r) {
  const LoadOptions& o = *r.options;
  const WorkerTotals& t = r.totals;
  const double target = stage_or_flat_rate(o);
  if (target > 0) {
    std::fprintf(out, "  open loop      target %.0f msg/s, achieved %.0f msg/s; late %llu (written > 1 ms after their "
                      "time), dropped %llu (due, never written)\n",
                 target, per_second(r.window_sent, r.window_s), static_cast<unsigned long long>(t.late),
                 static_cast<unsigned long long>(t.dropped));
  }
  if (o.match == MatchMode::None)
    std::fprintf(out, "  unanswered     %14llu (--match none: sent, no reply expected)\n",
                 static_cast<unsigned long long>(t.unanswered));
  if (o.match != MatchMode::Echo)
    std::fprintf(out, "  unsolicited    %14llu (server messages answering nothing outstanding)\n",
                 static_cast<unsigned long long>(t.unsolicited));
  if (o.reconnect)
    std::fprintf(out, "  reconnects     %14llu attempted, %llu upgraded\n", static_cast<unsigned long long>(t.reconnects),
                 static_cast<unsigned long long>(t.reconnected));
}

std::string any_server_parameters_json(const LoadOptions& o) {
  std::string headers = "[";
  for (size_t i = 0; i < o.upgrade.header_names.size(); ++i)  // names only: values may be secrets too
    headers += (i ? ", " : "") + json_string(o.upgrade.header_names[i]);
  std::string subprotocols = "[";
  for (size_t i = 0; i < o.upgrade.subprotocols.size(); ++i)
    subprotocols += (i ? ", " : "") + json_string(o.upgrade.subprotocols[i]);
  return ", \"match\": \"" + std::string(match_mode_name(o.match)) + "\", \"sizes\": " + json_string(o.sizes.text()) +
         ", \"text_ratio\": " + (o.text_ratio >= 0 ? number(o.text_ratio) : std::string("null")) +
         ", \"header_names\": " + headers + "], \"origin\": " +
         (o.upgrade.origin.empty() ? std::string("null") : json_string(o.upgrade.origin)) +
         ", \"subprotocols\": " + subprotocols + "], \"token_from\": " +
         (o.upgrade.token_source.empty() ? std::string("null") : json_string(o.upgrade.token_source)) +
         ", \"reconnect\": " + (o.reconnect ? "true" : "false") + ", \"stages\": " + number(uint64_t(o.stages.size()));
}

std::string any_server_json(const RunReport& r) {
  const LoadOptions& o = *r.options;
  const WorkerTotals& t = r.totals;
  std::string j = "  \"open_loop\": ";
  if (stage_or_flat_rate(o) > 0)
    j += "{\"target_rate\": " + number(stage_or_flat_rate(o)) + ", \"achieved_rate\": " + number(per_second(r.window_sent, r.window_s)) +
         ", \"late\": " + number(t.late) + ", \"late_threshold_us\": " + number(uint64_t(kLateSendNs / 1000)) +
         ", \"dropped\": " + number(t.dropped) + ", \"send_lag_us\": " + distribution_json(t.send_lag_us) + "}";
  else
    j += "null";
  j += ",\n  \"replies\": {\"unanswered\": " + number(t.unanswered) + ", \"unsolicited\": " + number(t.unsolicited) +
       "},\n  \"reconnects\": {\"attempted\": " + number(t.reconnects) + ", \"upgraded\": " + number(t.reconnected) +
       "},\n";
  return j;
}
// ---- end ----

const char* tls_verification_text(const LoadOptions& o) {
  if (o.tls.insecure) return "not verified (--insecure)";
  return o.tls.ca_file.empty() ? "verified against the system store" : "verified against --ca";
}

void print_tls(std::FILE* out, const LoadOptions& o, const WorkerTotals& t) {
  std::fprintf(out, "  tls            %llu handshakes (%llu TLS 1.3, %llu TLS 1.2), %llu resumed of %llu offered a ticket\n",
               static_cast<unsigned long long>(t.tls_handshakes), static_cast<unsigned long long>(t.tls13),
               static_cast<unsigned long long>(t.tls12), static_cast<unsigned long long>(t.tls_resumed),
               static_cast<unsigned long long>(t.tls_resume_offered));
  std::string suites;  // the TLS 1.3 suites the server chose, with their counts
  for (size_t i = 0; i < server::kTls13SuiteCount; ++i)
    if (t.tls13_suites[i] > 0) suites += std::string(suites.empty() ? "" : ", ") + server::kTls13SuiteNames[i] + " " +
                                         std::to_string(t.tls13_suites[i]);
  if (!suites.empty()) std::fprintf(out, "                 TLS 1.3 suites chosen: %s\n", suites.c_str());
  std::fprintf(out, "                 certificate %s for %s; versions %s to %s%s%s%s\n", tls_verification_text(o),
               o.tls.name_for(o.url).c_str(), tls_version_text(o.tls.min_version), tls_version_text(o.tls.max_version),
               o.tls.resume ? "; --tls-resume" : "", o.tls.tls13_suites.empty() ? "" : "; TLS 1.3 suites ",
               o.tls.tls13_suites.c_str());
}

// The parameters of a wss:// run (null for ws://).
std::string tls_parameters_json(const LoadOptions& o) {
  if (!o.url.tls) return "null";
  return std::string("{\"insecure\": ") + (o.tls.insecure ? "true" : "false") +
         ", \"ca\": " + (o.tls.ca_file.empty() ? std::string("null") : json_string(o.tls.ca_file)) +
         ", \"sni\": " + (o.tls.server_name.empty() ? std::string("null") : json_string(o.tls.server_name)) +
         ", \"server_name\": " + json_string(o.tls.name_for(o.url)) + ", \"resume\": " + (o.tls.resume ? "true" : "false") +
         ", \"min_version\": \"" + tls_version_text(o.tls.min_version) + "\", \"max_version\": \"" +
         tls_version_text(o.tls.max_version) + "\", \"tls13_suites\": " +
         (o.tls.tls13_suites.empty() ? std::string("null") : json_string(o.tls.tls13_suites)) + "}";
}

// What the TLS layer did (wss:// only): handshakes, resumption, failures by kind.
std::string tls_json(const WorkerTotals& t) {
  uint64_t failures = 0;
  for (uint64_t n : t.tls_failures) failures += n;
  std::string j = "{\"handshakes\": " + number(t.tls_handshakes) + ", \"resume_offered\": " + number(t.tls_resume_offered) +
                  ", \"resumed\": " + number(t.tls_resumed) + ", \"versions\": {\"1.2\": " + number(t.tls12) +
                  ", \"1.3\": " + number(t.tls13) + "}, \"tls13_suites\": {";
  for (size_t i = 0, listed = 0; i < server::kTls13SuiteCount; ++i)
    if (t.tls13_suites[i] > 0)
      j += std::string(listed++ ? ", " : "") + "\"" + server::kTls13SuiteNames[i] + "\": " + number(t.tls13_suites[i]);
  j += "}, \"failures\": {\"total\": " + number(failures);
  for (size_t k = 1; k < kTlsErrorCount; ++k)  // from 1: None is not a failure
    j += ", " + json_string(tls_failure_name(server::TlsError(k))) + ": " + number(t.tls_failures[k]);
  j += "}, \"failure_details\": {";
  bool first = true;
  for (size_t k = 1; k < kTlsErrorCount; ++k) {
    if (!t.tls_failures[k]) continue;
    j += (first ? "" : ", ") + json_string(tls_failure_name(server::TlsError(k))) + ": " + json_string(t.tls_first_failure[k]);
    first = false;
  }
  return j + "}}";
}

std::string size_text(const LoadOptions& o) { return o.sizes.text(); }

}  // namespace

int exit_status(const WorkerTotals& totals) {
  return totals.error_total() > 0 || totals.mismatched > 0 || totals.lost > 0 ? 1 : 0;
}

// --deflate: the compression ratio both ways and the load's CPU per message.
static void print_deflate(std::FILE* out, const RunReport& r) {
  const WorkerTotals& t = r.totals;
  auto ratio = [](uint64_t plain, uint64_t wire) { return wire ? double(plain) / double(wire) : 0.0; };
  const uint64_t messages = t.sent + t.received;
  std::fprintf(out, "  deflate        %llu connections agreed; sent %llu -> %llu bytes (ratio %.2f), received %llu <- %llu"
                    " bytes (ratio %.2f); load CPU %.2f us per message\n",
               static_cast<unsigned long long>(t.deflate_agreed), static_cast<unsigned long long>(t.deflate_plain_sent),
               static_cast<unsigned long long>(t.deflate_wire_sent), ratio(t.deflate_plain_sent, t.deflate_wire_sent),
               static_cast<unsigned long long>(t.deflate_plain_received),
               static_cast<unsigned long long>(t.deflate_wire_received),
               ratio(t.deflate_plain_received, t.deflate_wire_received),
               messages ? 1e6 * (r.load_cpu_user_s + r.load_cpu_system_s) / double(messages) : 0.0);
}

void print_summary(std::FILE* out, const RunReport& r) {
  const LoadOptions& o = *r.options;
  const WorkerTotals& t = r.totals;
  std::fprintf(out, "\nwsring-load %s: %u connection%s, %u thread%s, backend %s%s\n", o.url_text.c_str(), o.connections,
               o.connections == 1 ? "" : "s", o.threads, o.threads == 1 ? "" : "s", r.backend.c_str(),
               r.interrupted ? " (interrupted)" : "");
  if (o.handshake_only) {
    std::fprintf(out, "  mode           handshake only (connect, upgrade, close)\n");
  } else if (o.scenario == Scenario::Push) {
    std::fprintf(out, "  mode           push: receive only (latency from the send time in each message)\n");
  } else if (o.scenario == Scenario::Pubsub) {
    std::fprintf(out, "  mode           pubsub: %u topics, %u publishers, %.0f publishes/s of %llu B (latency from the send time)\n",
                 o.pubsub.topics, o.pubsub.publishers, o.pubsub.rate, static_cast<unsigned long long>(o.pubsub.payload_size));
  } else if (o.scenario == Scenario::Shootout) {
    std::fprintf(out, "  mode           shootout: broadcast step-up, %s format (steps below)\n",
                 o.shootout.format == ShootoutFormat::Binary ? "binary" : "json");
  } else {
    char types[48];
    if (o.text_ratio >= 0) snprintf(types, sizeof types, "%.0f%% text", o.text_ratio * 100);
    std::fprintf(out, "  mode           %s %s, pipeline %u, %s", o.text_ratio >= 0 ? types : o.text ? "text" : "binary",
                 size_text(o).c_str(), o.pipeline, o.rate > 0 ? "open loop" : "closed loop");
    if (o.match != MatchMode::Echo) std::fprintf(out, ", --match %s", match_mode_name(o.match));
    if (o.rate > 0) std::fprintf(out, " at %.0f msg/s", o.rate);
    std::fprintf(out, "\n");
  }
  std::fprintf(out, "  time           %.2f s measured (of %.2f s in all)\n\n", r.window_s, r.elapsed_s);

  if (!o.handshake_only) {
    std::fprintf(out, "  messages       %14s %14s\n", "total", "per second");
    std::fprintf(out, "  sent           %14llu\n", static_cast<unsigned long long>(t.sent));
    std::fprintf(out, "  received       %14llu %14.0f\n", static_cast<unsigned long long>(t.received),
                 per_second(r.window_messages, r.window_s));
    std::fprintf(out, "  payload bytes  %14llu %11.2f MB/s\n", static_cast<unsigned long long>(t.bytes_received),
                 per_second(r.window_bytes, r.window_s) / 1e6);
    std::fprintf(out, "  in flight      %14llu\n", static_cast<unsigned long long>(t.in_flight));
    std::fprintf(out, "  lost           %14llu\n", static_cast<unsigned long long>(t.lost));
    std::fprintf(out, "  mismatched     %14llu\n", static_cast<unsigned long long>(t.mismatched));
    print_any_server(out, r);
    if (o.scenario == Scenario::Push) std::fputs(sequence_counts_text(t.push).c_str(), out);
    std::fprintf(out, "\n");
  } else {
    std::fprintf(out, "  handshakes     %14llu %14.0f per second\n\n", static_cast<unsigned long long>(t.opened),
                 per_second(r.window_handshakes, r.window_s));
  }

  std::fprintf(out, "  %-14s %10s %10s %10s %10s %10s %10s %10s\n", "", "p50", "p90", "p99", "p99.9", "p99.99", "max",
               "mean");
  if (!o.handshake_only) print_distribution(out, "latency", t.latency_us);
  print_distribution(out, "connect", t.connect_us);
  if (o.url.tls) print_distribution(out, "tls handshake", t.tls_handshake_us);
  print_distribution(out, "upgrade", t.upgrade_us);
  print_distribution(out, "all of opening", t.handshake_us);

  const double load_cpu = r.load_cpu_user_s + r.load_cpu_system_s;
  std::fprintf(out, "\n  load CPU       %.2f s user + %.2f s system (%.0f%% of one core)\n", r.load_cpu_user_s,
               r.load_cpu_system_s, r.elapsed_s > 0 ? 100.0 * load_cpu / r.elapsed_s : 0.0);
  if (o.deflate) print_deflate(out, r);
  std::fprintf(out, "  connections    %llu opened, %llu failed, %llu closed cleanly\n",
               static_cast<unsigned long long>(t.opened), static_cast<unsigned long long>(t.failed),
               static_cast<unsigned long long>(t.closed_cleanly));
  if (o.url.tls) print_tls(out, o, t);
  if (t.error_total() == 0) {
    std::fprintf(out, "  errors         none\n");
  } else {
    std::fprintf(out, "  errors         %llu\n", static_cast<unsigned long long>(t.error_total()));
    for (size_t k = 0; k < kErrorKindCount; ++k) {
      if (!t.errors[k]) continue;
      std::fprintf(out, "    %-18s %10llu  first: %s\n", error_kind_name(ErrorKind(k)),
                   static_cast<unsigned long long>(t.errors[k]), t.first_detail[k].c_str());
      if (ErrorKind(k) != ErrorKind::TlsFailed) continue;
      for (size_t f = 0; f < kTlsErrorCount; ++f)  // the TLS failures by kind
        if (t.tls_failures[f])
          std::fprintf(out, "      %-24s %6llu  first: %s\n", tls_failure_name(server::TlsError(f)),
                       static_cast<unsigned long long>(t.tls_failures[f]), t.tls_first_failure[f].c_str());
    }
  }
  std::fflush(out);
}

std::string format_json(const RunReport& r) {
  const LoadOptions& o = *r.options;
  const WorkerTotals& t = r.totals;
  std::string sources = "[";
  for (size_t i = 0; i < o.source_addresses.size(); ++i) sources += (i ? ", " : "") + json_string(o.source_addresses[i]);
  sources += "]";
  std::string j = "{\n";
  j += "  \"tool\": \"wsring-load\",\n  \"version\": " + json_string(kLoadVersion) + ",\n";
  j += "  \"parameters\": {\"url\": " + json_string(o.url_text) + ", \"connections\": " + number(uint64_t(o.connections)) +
       ", \"duration_s\": " + (o.messages ? std::string("null") : number(o.duration_s)) +
       ", \"messages\": " + (o.messages ? number(o.messages) : std::string("null")) +
       ", \"size_min\": " + number(o.size_min) + ", \"size_max\": " + number(o.size_max) +
       ", \"type\": " + (o.text ? "\"text\"" : "\"binary\"") + ", \"pipeline\": " + number(uint64_t(o.pipeline)) +
       ", \"rate\": " + (o.rate > 0 ? number(o.rate) : std::string("null")) + ", \"ramp_up_s\": " + number(o.ramp_up_s) +
       ", \"threads\": " + number(uint64_t(o.threads)) +
       ", \"connect_rate\": " + (o.connect_rate > 0 ? number(o.connect_rate) : std::string("null")) +
       ", \"handshake_timeout_s\": " + number(o.handshake_timeout_s) +
       ", \"handshake_only\": " + (o.handshake_only ? "true" : "false") + ", \"source_addrs\": " + sources +
       ", \"backend\": " + json_string(r.backend) + ", \"backend_requested\": " + json_string(net::backend_name(o.backend)) +
       ", \"tls\": " + tls_parameters_json(o) + any_server_parameters_json(o) + "},\n";
  j += "  \"load_cpu_s\": {\"user\": " + number(r.load_cpu_user_s) + ", \"system\": " + number(r.load_cpu_system_s) + "},\n";
  j += "  \"elapsed_s\": " + number(r.elapsed_s) + ",\n  \"window_s\": " + number(r.window_s) +
       ",\n  \"interrupted\": " + (r.interrupted ? "true" : "false") + ",\n";
  j += "  \"messages\": {\"sent\": " + number(t.sent) + ", \"received\": " + number(t.received) +
       ", \"in_flight\": " + number(t.in_flight) + ", \"lost\": " + number(t.lost) +
       ", \"mismatched\": " + number(t.mismatched) + "},\n";
  j += "  \"bytes\": {\"sent\": " + number(t.bytes_sent) + ", \"received\": " + number(t.bytes_received) + "},\n";
  j += "  \"throughput\": {\"msgs_per_s\": " + number(per_second(r.window_messages, r.window_s)) +
       ", \"bytes_per_s\": " + number(per_second(r.window_bytes, r.window_s)) +
       ", \"handshakes_per_s\": " + number(per_second(r.window_handshakes, r.window_s)) + "},\n";
  j += any_server_json(r);
  j += "  \"scenario\": \"" + std::string(scenario_name(o.scenario)) + "\",\n";
  if (o.scenario == Scenario::Push) j += "  \"push\": " + sequence_counts_json(t.push) + ",\n";
  j += "  \"latency_us\": " + distribution_json(t.latency_us) + ",\n";
  j += "  \"connect_us\": " + distribution_json(t.connect_us) + ",\n";
  j += "  \"handshake_us\": " + distribution_json(t.handshake_us) + ",\n";
  if (o.url.tls) j += "  \"tls_handshake_us\": " + distribution_json(t.tls_handshake_us) + ",\n";
  j += "  \"upgrade_us\": " + distribution_json(t.upgrade_us) + ",\n";
  if (o.url.tls) j += "  \"tls\": " + tls_json(t) + ",\n";
  j += "  \"connections\": {\"opened\": " + number(t.opened) + ", \"failed\": " + number(t.failed) +
       ", \"closed_cleanly\": " + number(t.closed_cleanly) + "},\n";
  j += "  \"errors\": {\"total\": " + number(t.error_total());
  for (size_t k = 0; k < kErrorKindCount; ++k) j += ", " + json_string(error_kind_name(ErrorKind(k))) + ": " + number(t.errors[k]);
  j += "},\n  \"error_details\": {";
  bool first = true;
  for (size_t k = 0; k < kErrorKindCount; ++k) {
    if (!t.errors[k]) continue;
    j += (first ? "" : ", ") + json_string(error_kind_name(ErrorKind(k))) + ": " + json_string(t.first_detail[k]);
    first = false;
  }
  j += "},\n" + r.extra_json;
  j += "  \"exit_status\": " + std::to_string(std::max(exit_status(t), r.extra_exit_status)) + "\n}\n";
  return j;
}

bool check_writable(const char* flag, const std::string& path, std::string& error) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd >= 0) {  // it did not exist: leave nothing behind until the run writes it
    ::close(fd);
    ::unlink(path.c_str());
    return true;
  }
  if (errno == EEXIST) {
    const int existing = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (existing >= 0) {
      ::close(existing);
      return true;
    }
  }
  error = std::string(flag) + ": cannot write " + path + ": " + strerror(errno);
  return false;
}

std::string duration_text(double us) {
  char text[32];
  if (us < 1000) snprintf(text, sizeof text, "%.0f us", us);
  else if (us < 1e6) snprintf(text, sizeof text, "%.*f ms", us < 10e3 ? 2 : us < 100e3 ? 1 : 0, us / 1e3);
  else snprintf(text, sizeof text, "%.*f s", us < 10e6 ? 2 : us < 100e6 ? 1 : 0, us / 1e6);
  return text;
}

bool write_json(const std::string& path, const RunReport& report, std::string* error) {
  return write_text_file(path, format_json(report), error);
}

bool write_text_file(const std::string& path, const std::string& text, std::string* error) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) {
    if (error) *error = "cannot write " + path + ": " + strerror(errno);
    return false;
  }
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  if (std::fclose(f) != 0 || !ok) {
    if (error) *error = "cannot write " + path + ": " + strerror(errno);
    return false;
  }
  return true;
}

}  // namespace wsring::load
