#include "server/metrics.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstring>
#include <type_traits>

#include "server/connection.hpp"
#include "server/tls_session.hpp"

namespace wsring::server {

static_assert(std::is_trivially_copyable_v<ServerStats> && sizeof(ServerStats) % sizeof(uint64_t) == 0,
              "ServerStats is published word by word: uint64_t fields only");
static_assert(std::is_trivially_copyable_v<ThreadGauges> && sizeof(ThreadGauges) % sizeof(uint64_t) == 0);
static_assert(kEndReasons == size_t(EndReason::Shutdown) + 1, "kEndReasons counts EndReason");

namespace {

// Copies a struct of uint64_t words into relaxed atomics, and back.
template <class T, size_t N>
void store_words(std::atomic<uint64_t> (&to)[N], const T& from) {
  uint64_t words[N];
  std::memcpy(words, &from, sizeof words);
  for (size_t i = 0; i < N; ++i) to[i].store(words[i], std::memory_order_relaxed);
}

template <class T, size_t N>
void add_words(T& to, const std::atomic<uint64_t> (&from)[N]) {
  uint64_t words[N];
  std::memcpy(words, &to, sizeof words);
  for (size_t i = 0; i < N; ++i) words[i] += from[i].load(std::memory_order_relaxed);
  std::memcpy(&to, words, sizeof words);
}

}  // namespace

StatsBoard::StatsBoard(unsigned threads, uint64_t now_ms) : threads_(threads), slots_(new Slot[threads]) {
  for (unsigned t = 0; t < threads; ++t) {
    store_words(slots_[t].stats, ServerStats{});
    store_words(slots_[t].gauges, ThreadGauges{});
    slots_[t].heartbeat_ms.store(now_ms, std::memory_order_relaxed);
  }
}

void StatsBoard::publish(unsigned thread, const ServerStats& stats, const ThreadGauges& gauges, uint64_t now_ms) {
  Slot& s = slots_[thread];
  store_words(s.stats, stats);
  store_words(s.gauges, gauges);
  s.heartbeat_ms.store(now_ms, std::memory_order_relaxed);
}

ServerStats StatsBoard::total_stats() const {
  ServerStats total;
  for (unsigned t = 0; t < threads_; ++t) add_words(total, slots_[t].stats);
  return total;
}

ThreadGauges StatsBoard::total_gauges() const {
  ThreadGauges total;
  for (unsigned t = 0; t < threads_; ++t) add_words(total, slots_[t].gauges);
  return total;
}

uint64_t StatsBoard::oldest_heartbeat_ms() const {
  uint64_t oldest = UINT64_MAX;
  for (unsigned t = 0; t < threads_; ++t)
    oldest = std::min(oldest, slots_[t].heartbeat_ms.load(std::memory_order_relaxed));
  return oldest;
}

// ---------------------------------------------------------------------------------------
// Buckets

namespace {
constexpr uint16_t kCloseCodes[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011};
constexpr const char* kCloseCodeNames[kCloseCodeBuckets] = {"none", "1000", "1001", "1002", "1003", "1007",
                                                             "1008", "1009", "1010", "1011", "other"};
constexpr int kStatuses[] = {400, 403, 404, 405, 413, 426, 431, 500, 503};
constexpr const char* kStatusNames[kHttpStatusBuckets] = {"400", "403", "404", "405", "413",
                                                           "426", "431", "500", "503", "other"};
constexpr const char* kEndReasonNames[kEndReasons] = {
    "unknown",      "peer_close",        "server_close", "peer_eof",     "http_response",
    "protocol_error", "handshake_timeout", "idle_timeout", "send_timeout", "frame_timeout",
    "memory",       "network_error",     "tls_error",    "shutdown"};
}  // namespace

size_t close_code_bucket(uint16_t code) {
  if (code == 0 || code == 1005) return 0;  // 1005: no status code (an empty close)
  for (size_t i = 0; i < std::size(kCloseCodes); ++i)
    if (kCloseCodes[i] == code) return i + 1;
  return kCloseCodeBuckets - 1;
}
const char* close_code_bucket_name(size_t bucket) { return kCloseCodeNames[bucket]; }

size_t http_status_bucket(int status) {
  for (size_t i = 0; i < std::size(kStatuses); ++i)
    if (kStatuses[i] == status) return i;
  return kHttpStatusBuckets - 1;
}
const char* http_status_bucket_name(size_t bucket) { return kStatusNames[bucket]; }
const char* end_reason_name(size_t reason) { return reason < kEndReasons ? kEndReasonNames[reason] : "unknown"; }

// ---------------------------------------------------------------------------------------
// Exposition

void Exposition::family(std::string_view name, const char* type, std::string_view help) {
  name_.assign(name);
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  out_ += help;  // our own text: no backslash or newline to escape
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void Exposition::begin_sample(std::initializer_list<std::pair<std::string_view, std::string_view>> labels) {
  out_ += name_;
  if (labels.size() == 0) {
    out_ += ' ';
    return;
  }
  char sep = '{';
  for (const auto& [key, value] : labels) {
    out_ += sep;
    out_ += key;
    out_ += "=\"";
    for (char ch : value) {  // label values escape backslash, double quote and newline
      if (ch == '\\') out_ += "\\\\";
      else if (ch == '"') out_ += "\\\"";
      else if (ch == '\n') out_ += "\\n";
      else out_ += ch;
    }
    out_ += '"';
    sep = ',';
  }
  out_ += "} ";
}

void Exposition::sample(std::initializer_list<std::pair<std::string_view, std::string_view>> labels, uint64_t value) {
  begin_sample(labels);
  char text[24];
  const auto r = std::to_chars(text, text + sizeof text, value);
  out_.append(text, r.ptr);
  out_ += '\n';
}

void Exposition::sample(std::initializer_list<std::pair<std::string_view, std::string_view>> labels, double value) {
  begin_sample(labels);
  char text[32];
  const auto r = std::to_chars(text, text + sizeof text, value);
  out_.append(text, r.ptr);
  out_ += '\n';
}

void Exposition::sample(uint64_t value) { sample({}, value); }
void Exposition::sample(double value) { sample({}, value); }

ProcessFigures read_process_figures(const SharedState& shared) {
  ProcessFigures p;
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) == 0)
    p.cpu_seconds = double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                    double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    unsigned long long size = 0, resident = 0;
    if (std::fscanf(f, "%llu %llu", &size, &resident) == 2) p.resident_bytes = resident * uint64_t(sysconf(_SC_PAGESIZE));
    std::fclose(f);
  }
  p.output_queued_bytes = shared.memory.used();
  p.output_memory_limit = shared.memory.limit();
  p.draining = shared.draining.load(std::memory_order_relaxed);
  return p;
}

}  // namespace wsring::server

namespace wsring::server {

std::string metrics_log_line(std::string_view exposition) {
  std::string line;
  size_t pos = 0;
  while (pos < exposition.size()) {
    size_t end = exposition.find('\n', pos);
    if (end == std::string_view::npos) end = exposition.size();
    const std::string_view sample = exposition.substr(pos, end - pos);
    pos = end + 1;
    const size_t space = sample.rfind(' ');
    if (sample.empty() || sample[0] == '#' || space == std::string_view::npos) continue;
    const std::string_view value = sample.substr(space + 1);
    if (value == "0") continue;
    if (!line.empty()) line += ' ';
    line.append(sample.substr(0, space));
    line += '=';
    line.append(value);
  }
  return line;
}

}  // namespace wsring::server
