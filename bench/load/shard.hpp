// Running one load over several wsring-load processes (machines): `--shard I/N` and the common
// start barrier `--start-at`.
//
// Shard I of N (0 <= I < N) takes
//   connections  C_i = floor(C/N) + (I < C mod N ? 1 : 0)      (the sum over I is exactly C)
//   messages     M_i, the same split of --messages M              (the sum is exactly M)
//   rate         R_i = R * C_i / C: every connection sends at R/C, as in one process
//   connect rate the same proportion of --connect-rate
// Each shard numbers its own connections from 0; no connection or message belongs to two shards.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace wsring::load {

struct Shard {
  uint32_t index = 0;  // I
  uint32_t count = 1;  // N; 1: not sharded
};

constexpr uint32_t kMaxShards = 1u << 16;

// "I/N". False with `error` set on bad input.
bool parse_shard(std::string_view text, Shard& out, std::string* error);
// Shard I's part of `total` things dealt as evenly as possible (the parts add up to `total`).
uint64_t shard_share(uint64_t total, const Shard& shard);
// Shard I's part of a rate over `total_connections` connections (proportional to its connections).
double shard_rate(double rate, uint64_t total_connections, const Shard& shard);

// "1767225600", "1767225600.5" (seconds since the Unix epoch) or ISO-8601
// "2026-01-01T00:00:00Z", "2026-01-01T01:00:00.250+01:00". False on anything else.
bool parse_start_time(std::string_view text, double& unix_s);
// Refuses a start more than kStartAtSlackS in the past or more than a day ahead; `error` says why.
constexpr double kStartAtSlackS = 1.0;
bool check_start_time(double start_unix_s, double now_unix_s, std::string* error);

}  // namespace wsring::load
