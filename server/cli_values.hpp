// Command-line values shared by wsring-echo and wsring-load: one grammar for sizes, durations,
// counts and rates, one outcome type, and the one-line error a bad value gets.
//
// Grammar (ASCII; no sign, no spaces, no exponent, no leading '.' or trailing '.'):
//   size       DIGITS [unit]     binary multiples: K or KiB = 1024, M or MiB, G or GiB, T or TiB;
//                                B = bytes; the single letters may be lowercase (k, m, g, t).
//                                KB, MB, ... are refused: they mean 1000 to some and 1024 to others.
//   duration   DECIMAL [unit]    ms, s, m (minutes), h; a bare number is seconds ("0.5" = 500ms)
//   count      DIGITS            a plain whole number, no suffix (K means 1024 for sizes and 1000
//                                to most people for counts, so a count guesses neither)
//   rate       DECIMAL ["/s"]    events per second: "2000", "0.5", "100/s"
//   byte rate  size ["/s"]       bytes per second, size grammar: "1K" = 1024 B/s, "4MiB/s"
// where DIGITS = [0-9]+ and DECIMAL = DIGITS ["." DIGITS].
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace wsring::cli {

// What a command-line parser tells main(): run, exit 0 (--help, --version), or exit 2.
enum class ParseOutcome { Run, Exit0, BadUsage };

// Each parser returns false on anything outside the grammar (junk, sign, whitespace, empty,
// overflow of 64 bits, a non-finite decimal) and then leaves `out` untouched.
bool parse_size(std::string_view text, uint64_t& out);
bool parse_duration(std::string_view text, double& seconds);
bool parse_count(std::string_view text, uint64_t& out);
bool parse_rate(std::string_view text, double& per_second);
bool parse_byte_rate(std::string_view text, uint64_t& bytes_per_second);

// Bounds as a user would write them: 1024 -> "1K", 1536 -> "1536", 0.5 -> "500ms", 3600 -> "1h".
std::string format_size(uint64_t bytes);
std::string format_duration(double seconds);

// A flag's value, parsed and range-checked. On failure `error` is one line naming the flag, the
// accepted forms and bounds, and the value given, e.g.
//   --recv-buffer-size: expected a size from 1K to 16M (bytes, or binary multiples such as 64K,
//   16MiB, 2G), got '17M'
// `zero_means` (e.g. "never"): 0 is also accepted, outside [min, max], and the message says so.
bool parse_size_flag(std::string_view flag, std::string_view text, uint64_t min, uint64_t max, uint64_t& out,
                     std::string& error, const char* zero_means = nullptr);
bool parse_duration_flag(std::string_view flag, std::string_view text, double min, double max, double& out,
                         std::string& error, const char* zero_means = nullptr);
bool parse_count_flag(std::string_view flag, std::string_view text, uint64_t min, uint64_t max, uint64_t& out,
                      std::string& error, const char* zero_means = nullptr);
bool parse_rate_flag(std::string_view flag, std::string_view text, double min, double max, double& out,
                     std::string& error);
bool parse_byte_rate_flag(std::string_view flag, std::string_view text, uint64_t min, uint64_t max, uint64_t& out,
                          std::string& error, const char* zero_means = nullptr);

// The value as given, in single quotes, control bytes written as \xNN (keeps a message one line).
std::string quoted(std::string_view text);

// The accepted forms, for messages that are not about one bounded value (e.g. a size range).
extern const char kSizeForms[];      // "bytes, or binary multiples such as 64K, 16MiB, 2G"
extern const char kDurationForms[];  // "such as 500ms, 10s, 2m, 1h; a bare number is seconds"

}  // namespace wsring::cli
