// What a run adds around the core of wsring-load: the flags of the timeline, thresholds,
// HdrHistogram log, HTML report and shards (parsed here, so that options.cpp keeps one small
// block), the --start-at barrier, and the outputs made after the workers ended.
#pragma once

#include <atomic>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "bench/load/options.hpp"
#include "bench/load/timeline.hpp"

namespace wsring::load {

struct RunReport;

// --threshold, --hdr-log, --report, --shard, --start-at.
bool is_extra_valued_flag(std::string_view name);
// Parses one of them into `o`; false with `error` (one line naming the flag).
bool parse_extra_flag(std::string_view name, std::string_view value, LoadOptions& o, std::string& error);
// After every flag: --shard takes its share of --connections, --messages, --rate, --connect-rate.
bool finish_extra_options(LoadOptions& o, std::string& error);

// --hdr-log and --report are written at the end: refuses, before the run, a file that cannot be
// (its directory missing or not writable, or the file itself read-only). False with `error`
// naming the flag.
bool check_output_paths(const LoadOptions& o, std::string& error);

double unix_now_s();
// Sleeps until --start-at (at once without it). False if a stop signal came first.
bool wait_for_start(const LoadOptions& o, const std::atomic<int>& signals);

// One progress line (stderr): the interval's rates, connections, errors and latency.
void print_progress_line(std::FILE* out, const LoadOptions& o, const TimelinePoint& p, const LatencySummary& latency,
                         uint64_t in_flight, const char* phase);

// After the run: thresholds (their table on `out`), the timeline, the --hdr-log and --report
// files; fills report.extra_json and report.extra_exit_status. False with `error` if a file
// cannot be written.
bool finish_run_extras(std::FILE* out, const LoadOptions& o, RunReport& report, const Timeline& timeline,
                       double start_unix_s, std::string* error);

// The --hdr-log text of a timeline (one line per interval).
std::string timeline_hdr_log(const std::vector<TimelinePoint>& points, double start_unix_s);

}  // namespace wsring::load
