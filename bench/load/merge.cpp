#include "bench/load/merge.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "bench/load/html_report.hpp"
#include "bench/load/options.hpp"
#include "bench/load/report.hpp"
#include "bench/load/run_extras.hpp"

namespace wsring::load {
namespace {

// Just enough JSON to read wsring-load's own output back: objects, arrays, strings, numbers,
// true/false/null. Depth-limited.
struct Json {
  enum Kind { Null, Bool, Number, String, Array, Object } kind = Null;
  double number = 0;
  bool boolean = false;
  std::string text;
  std::vector<Json> items;
  std::vector<std::string> keys;  // an object's members: keys[i] names values[i]
  std::vector<Json> values;

  const Json* get(const std::string& key) const {
    for (size_t i = 0; i < keys.size(); ++i)
      if (keys[i] == key) return &values[i];
    return nullptr;
  }
  double num(const std::string& key) const {
    const Json* v = get(key);
    return v && v->kind == Number ? v->number : 0;
  }
  uint64_t count(const std::string& key) const { return uint64_t(std::max(0.0, num(key))); }
};

class JsonParser {
 public:
  explicit JsonParser(const std::string& text) : s_(text) {}
  bool parse(Json& out) {
    if (!value(out, 0)) return false;
    space();
    return at_ == s_.size();
  }

 private:
  void space() {
    while (at_ < s_.size() && (s_[at_] == ' ' || s_[at_] == '\n' || s_[at_] == '\r' || s_[at_] == '\t')) ++at_;
  }
  bool literal(const char* word) {
    const size_t n = std::strlen(word);
    if (s_.compare(at_, n, word) != 0) return false;
    at_ += n;
    return true;
  }
  bool string(std::string& out) {
    if (at_ >= s_.size() || s_[at_] != '"') return false;
    ++at_;
    while (at_ < s_.size() && s_[at_] != '"') {
      char c = s_[at_++];
      if (c == '\\') {
        if (at_ >= s_.size()) return false;
        c = s_[at_++];
        if (c == 'n') c = '\n';
        else if (c == 't') c = '\t';
        else if (c == 'r') c = '\r';
        else if (c == 'u') {  // wsring-load escapes only control characters this way
          if (at_ + 4 > s_.size()) return false;
          c = char(std::strtol(s_.substr(at_, 4).c_str(), nullptr, 16));
          at_ += 4;
        }
      }
      out += c;
    }
    if (at_ >= s_.size()) return false;
    ++at_;
    return true;
  }
  bool value(Json& out, int depth) {
    if (depth > 32) return false;
    space();
    if (at_ >= s_.size()) return false;
    const char c = s_[at_];
    if (c == '{') {
      out.kind = Json::Object;
      ++at_;
      space();
      if (at_ < s_.size() && s_[at_] == '}') return ++at_, true;
      for (;;) {
        space();
        std::string key;
        if (!string(key)) return false;
        space();
        if (at_ >= s_.size() || s_[at_++] != ':') return false;
        Json member;
        if (!value(member, depth + 1)) return false;
        out.keys.push_back(std::move(key));
        out.values.push_back(std::move(member));
        space();
        if (at_ < s_.size() && s_[at_] == ',') {
          ++at_;
          continue;
        }
        return at_ < s_.size() && s_[at_++] == '}';
      }
    }
    if (c == '[') {
      out.kind = Json::Array;
      ++at_;
      space();
      if (at_ < s_.size() && s_[at_] == ']') return ++at_, true;
      for (;;) {
        Json item;
        if (!value(item, depth + 1)) return false;
        out.items.push_back(std::move(item));
        space();
        if (at_ < s_.size() && s_[at_] == ',') {
          ++at_;
          continue;
        }
        return at_ < s_.size() && s_[at_++] == ']';
      }
    }
    if (c == '"') return out.kind = Json::String, string(out.text);
    if (literal("true")) return out.kind = Json::Bool, out.boolean = true, true;
    if (literal("false")) return out.kind = Json::Bool, true;
    if (literal("null")) return true;
    char* end = nullptr;
    out.number = std::strtod(s_.c_str() + at_, &end);
    if (end == s_.c_str() + at_) return false;
    at_ = size_t(end - s_.c_str());
    out.kind = Json::Number;
    return true;
  }

  const std::string& s_;
  size_t at_ = 0;
};

bool read_file(const std::string& path, std::string& out, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (error) *error = "cannot read " + path;
    return false;
  }
  std::ostringstream text;
  text << in.rdbuf();
  out = text.str();
  return true;
}

std::string number_text(double v) {
  char text[64];
  snprintf(text, sizeof text, "%.3f", v);
  return text;
}

TimelinePoint& point_at(std::vector<TimelinePoint>& timeline, double offset_s) {
  const double k = std::max(0.0, std::round(offset_s * 1e9 / double(kTimelineIntervalNs)));
  const size_t index = size_t(std::min(k, 1e7));  // 115 days of seconds
  if (timeline.size() <= index) {
    const size_t old = timeline.size();
    timeline.resize(index + 1);
    for (size_t i = old; i < timeline.size(); ++i) timeline[i].start_s = double(i) * double(kTimelineIntervalNs) / 1e9;
  }
  return timeline[index];
}

}  // namespace

bool parse_shard_result(const std::string& text, ShardResult& out, std::string* error) {
  Json root;
  if (!JsonParser(text).parse(root) || root.kind != Json::Object) {
    if (error) *error = "not JSON";
    return false;
  }
  const Json* tool = root.get("tool");
  if (!tool || tool->text != "wsring-load") {
    if (error) *error = "not a wsring-load result (\"tool\" is not \"wsring-load\")";
    return false;
  }
  static const Json kEmpty;
  auto object = [&](const char* key) -> const Json& {
    const Json* v = root.get(key);
    return v && v->kind == Json::Object ? *v : kEmpty;
  };
  out.start_unix_s = root.num("start_unix_s");
  out.window_s = root.num("window_s");
  out.msgs_per_s = object("throughput").num("msgs_per_s");
  out.bytes_per_s = object("throughput").num("bytes_per_s");
  const Json& m = object("messages");
  out.sent = m.count("sent");
  out.received = m.count("received");
  out.in_flight = m.count("in_flight");
  out.lost = m.count("lost");
  out.mismatched = m.count("mismatched");
  out.bytes_sent = object("bytes").count("sent");
  out.bytes_received = object("bytes").count("received");
  out.opened = object("connections").count("opened");
  out.failed = object("connections").count("failed");
  out.closed_cleanly = object("connections").count("closed_cleanly");
  const Json& errors = object("errors");
  for (size_t i = 0; i < errors.keys.size(); ++i)
    if (errors.values[i].kind == Json::Number) out.errors.emplace_back(errors.keys[i], uint64_t(errors.values[i].number));
  out.exit_status = int(root.num("exit_status"));
  if (const Json* tl = root.get("timeline"); tl && tl->kind == Json::Array)
    for (const Json& item : tl->items) {
      TimelinePoint p;
      p.start_s = item.num("t");
      p.length_s = item.num("length_s");
      p.connections = item.count("connections");
      p.sent = item.count("sent");
      p.received = item.count("received");
      p.bytes_received = item.count("bytes_received");
      p.errors = item.count("errors");
      out.timeline.push_back(p);
    }
  return true;
}

bool merge_runs(const std::vector<std::pair<std::string, HdrLog>>& logs, const std::vector<ShardResult>& results,
                MergedRun& out, std::string* error) {
  out.logs = logs.size();
  out.results = results.size();
  // Interval k starts k seconds after the earliest start of any input.
  double base = 0;
  bool have_base = false;
  for (const auto& [name, log] : logs)
    for (const HdrLogInterval& i : log.intervals) {
      const double at = log.base_time_s + i.start_s;
      if (!have_base || at < base) base = at, have_base = true;
    }
  for (const ShardResult& r : results)
    if (!have_base || r.start_unix_s < base) base = r.start_unix_s, have_base = true;

  std::map<size_t, std::unique_ptr<LatencyHistogram>> per_interval;
  for (const auto& [name, log] : logs)
    for (const HdrLogInterval& i : log.intervals) {
      TimelinePoint& p = point_at(out.timeline, log.base_time_s + i.start_s - base);
      p.length_s = std::max(p.length_s, i.length_s);
      auto& h = per_interval[size_t(&p - out.timeline.data())];
      if (!h) h = std::make_unique<LatencyHistogram>();
      std::string why;
      if (!decode_hdr(i.encoded, *h, &why) || !decode_hdr(i.encoded, out.latency, &why)) {
        if (error) *error = name + ": interval at " + number_text(i.start_s) + " s: " + why;
        return false;
      }
    }
  ShardResult& t = out.totals;
  t.start_unix_s = base;
  for (const ShardResult& r : results) {
    t.window_s = std::max(t.window_s, r.window_s);
    t.msgs_per_s += r.msgs_per_s;
    t.bytes_per_s += r.bytes_per_s;
    t.sent += r.sent, t.received += r.received, t.in_flight += r.in_flight, t.lost += r.lost;
    t.mismatched += r.mismatched, t.bytes_sent += r.bytes_sent, t.bytes_received += r.bytes_received;
    t.opened += r.opened, t.failed += r.failed, t.closed_cleanly += r.closed_cleanly;
    t.exit_status = std::max(t.exit_status, r.exit_status);
    for (const auto& error_count : r.errors) {
      const std::string& kind = error_count.first;
      auto it = std::find_if(t.errors.begin(), t.errors.end(), [&kind](const auto& e) { return e.first == kind; });
      if (it == t.errors.end()) t.errors.push_back(error_count);
      else it->second += error_count.second;
    }
    for (const TimelinePoint& q : r.timeline) {
      TimelinePoint& p = point_at(out.timeline, r.start_unix_s + q.start_s - base);
      p.length_s = std::max(p.length_s, q.length_s);
      p.connections += q.connections, p.sent += q.sent, p.received += q.received;
      p.bytes_received += q.bytes_received, p.errors += q.errors;
    }
  }
  for (auto& [k, h] : per_interval) {
    out.timeline[k].latency = summarize(*h);
    append_hdr_counts(*h, out.timeline[k].counts);
  }
  return true;
}

std::string merged_json(const MergedRun& m, const std::vector<std::string>& inputs) {
  const ShardResult& t = m.totals;
  const LatencyHistogram& h = m.latency;
  std::string names = "[";
  for (size_t i = 0; i < inputs.size(); ++i) {
    names += std::string(i ? ", " : "") + "\"";
    for (char c : inputs[i]) {
      if (c == '"' || c == '\\') names += '\\';
      if (uint8_t(c) >= 0x20) names += c;
    }
    names += "\"";
  }
  names += "]";
  std::string j = "{\n  \"tool\": \"wsring-load merge\",\n  \"version\": \"" + std::string(kLoadVersion) + "\",\n";
  j += "  \"inputs\": " + names + ",\n  \"logs\": " + std::to_string(m.logs) + ",\n  \"results\": " +
       std::to_string(m.results) + ",\n  \"start_unix_s\": " + number_text(t.start_unix_s) + ",\n";
  if (m.results) {
    j += "  \"window_s\": " + number_text(t.window_s) + ",\n";
    j += "  \"messages\": {\"sent\": " + std::to_string(t.sent) + ", \"received\": " + std::to_string(t.received) +
         ", \"in_flight\": " + std::to_string(t.in_flight) + ", \"lost\": " + std::to_string(t.lost) +
         ", \"mismatched\": " + std::to_string(t.mismatched) + "},\n";
    j += "  \"bytes\": {\"sent\": " + std::to_string(t.bytes_sent) + ", \"received\": " + std::to_string(t.bytes_received) + "},\n";
    j += "  \"throughput\": {\"msgs_per_s\": " + number_text(t.msgs_per_s) + ", \"bytes_per_s\": " +
         number_text(t.bytes_per_s) + "},\n";
    j += "  \"connections\": {\"opened\": " + std::to_string(t.opened) + ", \"failed\": " + std::to_string(t.failed) +
         ", \"closed_cleanly\": " + std::to_string(t.closed_cleanly) + "},\n  \"errors\": {";
    for (size_t i = 0; i < t.errors.size(); ++i)
      j += std::string(i ? ", " : "") + "\"" + t.errors[i].first + "\": " + std::to_string(t.errors[i].second);
    j += "},\n";
  }
  if (m.logs)
    j += "  \"latency_us\": {\"count\": " + std::to_string(h.count()) + ", \"min\": " + std::to_string(h.min()) +
         ", \"mean\": " + number_text(h.mean()) + ", \"p50\": " + std::to_string(h.percentile(50)) +
         ", \"p90\": " + std::to_string(h.percentile(90)) + ", \"p99\": " + std::to_string(h.percentile(99)) +
         ", \"p999\": " + std::to_string(h.percentile(99.9)) + ", \"p9999\": " + std::to_string(h.percentile(99.99)) +
         ", \"max\": " + std::to_string(h.max()) + "},\n";
  j += "  \"timeline\": " + timeline_json(m.timeline) + ",\n";
  j += "  \"exit_status\": " + std::to_string(t.exit_status) + "\n}\n";
  return j;
}

int merge_main(int argc, char** argv) {
  static const char kUsage[] =
      "Usage: wsring-load merge A.hlog B.hlog ... [A.json B.json ...] [--json OUT.json] [--report OUT.html]\n"
      "Merges the --hdr-log logs and --json results of the shards of one run (see bench/README.md).\n";
  std::string json_out, report_out;
  std::vector<std::string> inputs;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help") return std::fputs(kUsage, stdout), 0;
    if (arg == "--json" || arg == "--report") {
      if (i + 1 >= argc || argv[i + 1][0] == '\0')
        return std::fprintf(stderr, "wsring-load merge: %s needs a file name\n", arg.c_str()), 2;
      (arg == "--json" ? json_out : report_out) = argv[++i];
    } else if (arg.size() > 1 && arg[0] == '-') {
      return std::fprintf(stderr, "wsring-load merge: unknown option %s (see --help)\n", arg.c_str()), 2;
    } else {
      inputs.push_back(arg);
    }
  }
  if (inputs.empty())
    return std::fprintf(stderr, "wsring-load merge: no input (give the shards' --hdr-log and --json files)\n"), 2;
  std::vector<std::pair<std::string, HdrLog>> logs;
  std::vector<ShardResult> results;
  for (const std::string& path : inputs) {
    std::string text, error;
    if (!read_file(path, text, &error)) return std::fprintf(stderr, "wsring-load merge: %s\n", error.c_str()), 2;
    const size_t first = text.find_first_not_of(" \t\r\n");
    if (first != std::string::npos && text[first] == '{') {
      ShardResult r;
      if (!parse_shard_result(text, r, &error))
        return std::fprintf(stderr, "wsring-load merge: %s: %s\n", path.c_str(), error.c_str()), 2;
      r.name = path;
      results.push_back(std::move(r));
    } else {
      HdrLog log;
      if (!parse_hdr_log(text, log, &error) || log.intervals.empty())
        return std::fprintf(stderr, "wsring-load merge: %s: %s\n", path.c_str(),
                            error.empty() ? "no intervals (not an HdrHistogram log?)" : error.c_str()),
               2;
      logs.emplace_back(path, std::move(log));
    }
  }
  MergedRun merged;
  std::string error;
  if (!merge_runs(logs, results, merged, &error)) return std::fprintf(stderr, "wsring-load merge: %s\n", error.c_str()), 2;

  const LatencyHistogram& h = merged.latency;
  std::printf("wsring-load merge: %zu log%s, %zu result%s\n", logs.size(), logs.size() == 1 ? "" : "s", results.size(),
              results.size() == 1 ? "" : "s");
  if (!results.empty())
    std::printf("  messages       %llu sent, %llu received (%.0f per second), %llu lost, %llu mismatched\n"
                "  connections    %llu opened, %llu failed\n",
                (unsigned long long)merged.totals.sent, (unsigned long long)merged.totals.received, merged.totals.msgs_per_s,
                (unsigned long long)merged.totals.lost, (unsigned long long)merged.totals.mismatched,
                (unsigned long long)merged.totals.opened, (unsigned long long)merged.totals.failed);
  if (!logs.empty())
    std::printf("  latency (us)   %llu echoes: p50 %llu, p90 %llu, p99 %llu, p99.9 %llu, max %llu\n",
                (unsigned long long)h.count(), (unsigned long long)h.percentile(50), (unsigned long long)h.percentile(90),
                (unsigned long long)h.percentile(99), (unsigned long long)h.percentile(99.9), (unsigned long long)h.max());
  if (!json_out.empty() && !write_text_file(json_out, merged_json(merged, inputs), &error))
    return std::fprintf(stderr, "wsring-load merge: %s\n", error.c_str()), 1;
  if (!report_out.empty()) {
    HtmlReport report;
    report.title = "wsring-load merge of " + std::to_string(inputs.size()) + " inputs";
    for (const std::string& in : inputs) report.parameters.emplace_back("input", in);
    report.results = {{"echoes/s (sum)", number_text(merged.totals.msgs_per_s)},
                      {"received", std::to_string(merged.totals.received)},
                      {"latency p50 / p99 / max (us)", std::to_string(h.percentile(50)) + " / " +
                                                           std::to_string(h.percentile(99)) + " / " + std::to_string(h.max())}};
    report.timeline = merged.timeline;
    report.latency = &merged.latency;
    if (!write_text_file(report_out, render_html_report(report), &error))
      return std::fprintf(stderr, "wsring-load merge: %s\n", error.c_str()), 1;
  }
  return merged.totals.exit_status;
}

}  // namespace wsring::load
