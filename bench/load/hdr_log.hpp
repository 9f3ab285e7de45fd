// HdrHistogram's encodings of a LatencyHistogram, and its interval log format (`--hdr-log`,
// `wsring-load merge`), so that HdrHistogram's own tools (HistogramLogProcessor, ...) read what
// wsring-load writes and wsring-load reads what they write (for the 3-significant-digit layout).
//
// V2 encoding (big-endian): cookie 0x1c849313, payload length, normalizing index offset (0),
// significant digits (3), lowest discernible value (1), highest trackable value (2^40-1), the
// integer-to-double ratio (1.0), then the counts from index 0 to the highest non-zero one, each
// a ZigZag LEB128 number: a count, or -N for a run of N zero counts. The compressed envelope:
// cookie 0x1c849314, the length of what follows, then the V2 encoding DEFLATEd in a zlib stream.
// The log: `#[StartTime: S (seconds since epoch), date]`, `#[BaseTime: S ...]`, the legend line
// and one line per interval `[Tag=T,]start,length,max,BASE64` (times in seconds since BaseTime,
// max in milliseconds; values in the histogram are microseconds).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bench/load/histogram.hpp"

namespace wsring::load {

constexpr int32_t kHdrV2Cookie = 0x1c849313;
constexpr int32_t kHdrV2CompressedCookie = 0x1c849314;
constexpr double kHdrLogMaxUnitRatio = 1000.0;  // Interval_Max column: microseconds / 1000 = ms

// The counts only (no header), appended to `out`: what a worker keeps of each past interval.
void append_hdr_counts(const LatencyHistogram& h, std::string& out);
// Adds encoded counts (as append_hdr_counts writes them) into `into`. False on malformed input.
bool add_hdr_counts(std::string_view payload, LatencyHistogram& into, std::string* error);

std::string encode_hdr_v2(const LatencyHistogram& h);
std::string encode_hdr_compressed(const LatencyHistogram& h);
// Adds a V2 histogram, plain or compressed, into `into`. Refuses another layout (significant
// digits other than 3, another lowest value or unit) with `error` naming it.
bool decode_hdr(std::string_view bytes, LatencyHistogram& into, std::string* error);

std::string base64_encode(std::string_view bytes);
bool base64_decode(std::string_view text, std::string& out);

struct HdrLogInterval {
  std::string tag;
  double start_s = 0;   // since the log's BaseTime
  double length_s = 0;
  double max_ms = 0;
  std::string encoded;  // the compressed histogram (base64 decoded)
};

struct HdrLog {
  double start_time_s = 0;  // #[StartTime]: seconds since the Unix epoch (0 if absent)
  double base_time_s = 0;   // #[BaseTime] (0 if absent: the timestamps are absolute)
  std::vector<HdrLogInterval> intervals;
};

// The header: version, StartTime, BaseTime (both `start_unix_s`), the legend.
std::string hdr_log_header(double start_unix_s);
// One interval line; an empty tag writes none.
std::string hdr_log_line(const std::string& tag, double start_s, double length_s, const LatencyHistogram& h);
// Parses a log; false with `error` ("line N: ...") on a line it cannot read.
bool parse_hdr_log(std::string_view text, HdrLog& out, std::string* error);

}  // namespace wsring::load
