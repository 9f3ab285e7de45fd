// `wsring-load merge A.hlog B.hlog ... [A.json B.json ...] [--json OUT] [--report OUT.html]`:
// one result from the shards of a run. Latency comes from the HdrHistogram logs (--hdr-log):
// their counts are added bucket by bucket, so the merged histogram is exactly the one all the
// shards' echoes would have made together. Counts (messages, bytes, connections, errors) and
// the achieved rate are sums over the JSON results (--json). The timeline lines the shards up by
// wall-clock time: interval k holds what every shard measured in the second that started k
// seconds after the earliest shard's start (shards started with one --start-at coincide).
#pragma once

#include <string>
#include <vector>

#include "bench/load/hdr_log.hpp"
#include "bench/load/histogram.hpp"
#include "bench/load/timeline.hpp"

namespace wsring::load {

// The figures of one shard's JSON result that a merge adds up.
struct ShardResult {
  std::string name;
  double start_unix_s = 0, window_s = 0, msgs_per_s = 0, bytes_per_s = 0;
  uint64_t sent = 0, received = 0, in_flight = 0, lost = 0, mismatched = 0;
  uint64_t bytes_sent = 0, bytes_received = 0, opened = 0, failed = 0, closed_cleanly = 0;
  std::vector<std::pair<std::string, uint64_t>> errors;  // "total" first, then by kind
  int exit_status = 0;
  std::vector<TimelinePoint> timeline;  // counters only
};

// Reads wsring-load's --json output. False with `error` on anything else.
bool parse_shard_result(const std::string& text, ShardResult& out, std::string* error);

struct MergedRun {
  size_t logs = 0, results = 0;
  LatencyHistogram latency;  // every interval of every log
  std::vector<TimelinePoint> timeline;
  ShardResult totals;        // sums (start: the earliest; window: the longest)
};

// Merges; false with `error` (naming the input) on a log whose histograms cannot be read.
bool merge_runs(const std::vector<std::pair<std::string, HdrLog>>& logs, const std::vector<ShardResult>& results,
                MergedRun& out, std::string* error);
std::string merged_json(const MergedRun& m, const std::vector<std::string>& inputs);

int merge_main(int argc, char** argv);

}  // namespace wsring::load
