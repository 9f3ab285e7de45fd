#include "bench/load/shard.hpp"

#include <time.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "server/cli_values.hpp"

namespace wsring::load {
namespace {

bool digits(std::string_view text, size_t at, size_t n, int& out) {
  if (at + n > text.size()) return false;
  out = 0;
  for (size_t i = at; i < at + n; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    out = out * 10 + (text[i] - '0');
  }
  return true;
}

bool parse_iso8601(std::string_view text, double& unix_s) {
  // YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)
  int year, month, day, hour, minute, second;
  if (!digits(text, 0, 4, year) || text.size() < 20 || text[4] != '-' || !digits(text, 5, 2, month) || text[7] != '-' ||
      !digits(text, 8, 2, day) || (text[10] != 'T' && text[10] != ' ') || !digits(text, 11, 2, hour) ||
      text[13] != ':' || !digits(text, 14, 2, minute) || text[16] != ':' || !digits(text, 17, 2, second))
    return false;
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return false;
  size_t at = 19;
  double fraction = 0;
  if (at < text.size() && text[at] == '.') {
    double scale = 0.1;
    ++at;
    const size_t start = at;
    for (; at < text.size() && text[at] >= '0' && text[at] <= '9'; ++at, scale /= 10) fraction += (text[at] - '0') * scale;
    if (at == start) return false;
  }
  int offset_s = 0;
  std::string_view zone = text.substr(at);
  if (zone == "Z" || zone == "z") {
    offset_s = 0;
  } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':') {
    int oh, om;
    if (!digits(zone, 1, 2, oh) || !digits(zone, 4, 2, om) || oh > 23 || om > 59) return false;
    offset_s = (zone[0] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
  } else {
    return false;  // a time without a zone would be a guess
  }
  tm t{};
  t.tm_year = year - 1900;
  t.tm_mon = month - 1;
  t.tm_mday = day;
  t.tm_hour = hour;
  t.tm_min = minute;
  t.tm_sec = second;
  const time_t whole = timegm(&t);
  if (t.tm_mday != day) return false;  // 2026-02-30 normalised into March
  unix_s = double(whole) - offset_s + fraction;
  return true;
}

}  // namespace

bool parse_shard(std::string_view text, Shard& out, std::string* error) {
  const size_t slash = text.find('/');
  uint64_t i = 0, n = 0;
  if (slash == std::string_view::npos || !cli::parse_count(text.substr(0, slash), i) ||
      !cli::parse_count(text.substr(slash + 1), n)) {
    if (error) *error = "expected I/N (shard I of N, counted from 0), e.g. 0/4";
    return false;
  }
  if (n < 1 || n > kMaxShards) {
    if (error) *error = "N must be 1 to " + std::to_string(kMaxShards);
    return false;
  }
  if (i >= n) {
    if (error) *error = "I must be 0 to N-1 (" + std::to_string(n - 1) + "): shards are counted from 0";
    return false;
  }
  out.index = uint32_t(i);
  out.count = uint32_t(n);
  return true;
}

uint64_t shard_share(uint64_t total, const Shard& shard) {
  return total / shard.count + (shard.index < total % shard.count ? 1 : 0);
}

double shard_rate(double rate, uint64_t total_connections, const Shard& shard) {
  if (total_connections == 0) return 0;
  return rate * double(shard_share(total_connections, shard)) / double(total_connections);
}

bool parse_start_time(std::string_view text, double& unix_s) {
  if (text.empty()) return false;
  if (text.find_first_not_of("0123456789.") == std::string_view::npos) {
    const std::string s(text);
    char* end = nullptr;
    unix_s = std::strtod(s.c_str(), &end);
    return end == s.c_str() + s.size() && std::isfinite(unix_s);
  }
  return parse_iso8601(text, unix_s);
}

bool check_start_time(double start_unix_s, double now_unix_s, std::string* error) {
  char text[160];
  if (start_unix_s < now_unix_s - kStartAtSlackS) {
    snprintf(text, sizeof text, "the start time is %.1f s in the past (the clock says %.3f)", now_unix_s - start_unix_s,
             now_unix_s);
    if (error) *error = text;
    return false;
  }
  if (start_unix_s > now_unix_s + 86400) {
    snprintf(text, sizeof text, "the start time is %.0f s ahead, more than a day", start_unix_s - now_unix_s);
    if (error) *error = text;
    return false;
  }
  return true;
}

}  // namespace wsring::load
