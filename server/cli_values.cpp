#include "server/cli_values.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace wsring::cli {

const char kSizeForms[] = "bytes, or binary multiples such as 64K, 16MiB, 2G";
const char kDurationForms[] = "such as 500ms, 10s, 2m, 1h; a bare number is seconds";

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Length of the DIGITS prefix of text.
size_t digit_run(std::string_view text) {
  size_t n = 0;
  while (n < text.size() && is_digit(text[n])) ++n;
  return n;
}

// Splits text into its DECIMAL prefix (DIGITS ["." DIGITS]) and the rest; false if there is no
// well-formed decimal prefix.
bool split_decimal(std::string_view text, std::string_view& number, std::string_view& rest) {
  size_t end = digit_run(text);
  if (end == 0) return false;
  if (end < text.size() && text[end] == '.') {
    const size_t fraction = digit_run(text.substr(end + 1));
    if (fraction == 0) return false;
    end += 1 + fraction;
  }
  number = text.substr(0, end);
  rest = text.substr(end);
  return true;
}

bool decimal_value(std::string_view number, double& out) {
  double value = 0;
  const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value,
                                         std::chars_format::fixed);
  if (ec != std::errc() || end != number.data() + number.size() || !std::isfinite(value)) return false;
  out = value;
  return true;
}

// The shift of a size unit ("K" -> 10), or -1 if `unit` is not one.
int size_unit_shift(std::string_view unit) {
  if (unit.empty() || unit == "B") return 0;
  int shift = 0;
  switch (unit[0]) {
    case 'K': case 'k': shift = 10; break;
    case 'M': case 'm': shift = 20; break;
    case 'G': case 'g': shift = 30; break;
    case 'T': case 't': shift = 40; break;
    default: return -1;
  }
  const std::string_view tail = unit.substr(1);
  if (tail.empty()) return shift;
  // "KiB", "MiB", ...: the IEC spelling, upper-case letter only ("kiB" is no unit).
  if (tail == "iB" && unit[0] >= 'A' && unit[0] <= 'Z') return shift;
  return -1;
}

// Drops a trailing "/s" (per second) if present.
std::string_view without_per_second(std::string_view text) {
  if (text.size() > 2 && text.substr(text.size() - 2) == "/s") text.remove_suffix(2);
  return text;
}

std::string format_decimal(double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.15g", value);
  return buffer;
}

std::string zero_prefix(const char* zero_means) {
  return zero_means ? std::string("0 (") + zero_means + ") or " : std::string();
}

std::string expected(std::string_view flag, const std::string& what, std::string_view text) {
  return std::string(flag) + ": expected " + what + ", got " + quoted(text);
}

}  // namespace

std::string quoted(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    const unsigned char byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7F) {
      char escape[5];
      std::snprintf(escape, sizeof escape, "\\x%02X", byte);
      out += escape;
    } else {
      out += c;
    }
  }
  return out + "'";
}

bool parse_count(std::string_view text, uint64_t& out) {
  if (text.empty() || digit_run(text) != text.size()) return false;
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return false;  // overflow
  out = value;
  return true;
}

bool parse_size(std::string_view text, uint64_t& out) {
  const size_t digits = digit_run(text);
  uint64_t value = 0;
  if (digits == 0 || !parse_count(text.substr(0, digits), value)) return false;
  const int shift = size_unit_shift(text.substr(digits));
  if (shift < 0) return false;
  if (shift > 0 && value > (UINT64_MAX >> shift)) return false;
  out = value << shift;
  return true;
}

bool parse_duration(std::string_view text, double& seconds) {
  std::string_view number, unit;
  double value = 0;
  if (!split_decimal(text, number, unit) || !decimal_value(number, value)) return false;
  double scale = 0;
  if (unit.empty() || unit == "s") scale = 1;
  else if (unit == "ms") scale = 1e-3;
  else if (unit == "m") scale = 60;
  else if (unit == "h") scale = 3600;
  else return false;
  const double result = value * scale;
  if (!std::isfinite(result)) return false;
  seconds = result;
  return true;
}

bool parse_rate(std::string_view text, double& per_second) {
  std::string_view number, rest;
  double value = 0;
  text = without_per_second(text);
  if (!split_decimal(text, number, rest) || !rest.empty() || !decimal_value(number, value)) return false;
  per_second = value;
  return true;
}

bool parse_byte_rate(std::string_view text, uint64_t& bytes_per_second) {
  return parse_size(without_per_second(text), bytes_per_second);
}

std::string format_size(uint64_t bytes) {
  static const char kUnits[] = "KMGT";
  for (int i = 3; i >= 0; --i) {
    const unsigned shift = 10u * unsigned(i + 1);
    if (bytes != 0 && bytes % (uint64_t{1} << shift) == 0) return std::to_string(bytes >> shift) + kUnits[i];
  }
  return std::to_string(bytes);
}

std::string format_duration(double seconds) {
  if (seconds > 0 && seconds < 1) return format_decimal(seconds * 1e3) + "ms";
  if (seconds >= 3600 && std::fmod(seconds, 3600) == 0) return format_decimal(seconds / 3600) + "h";
  if (seconds >= 60 && std::fmod(seconds, 60) == 0) return format_decimal(seconds / 60) + "m";
  return format_decimal(seconds) + "s";
}

namespace {

// Parses with `parse`, accepts [min, max] (and 0 when zero_means says what it means), else sets
// `error` from `what` (the bounds in words).
template <class T, class Parser>
bool parse_bounded(std::string_view flag, std::string_view text, T min, T max, const char* zero_means,
                   Parser parse, const std::string& what, T& out, std::string& error) {
  T value{};
  if (parse(text, value) && ((value >= min && value <= max) || (zero_means && value == T{}))) {
    out = value;
    return true;
  }
  error = expected(flag, zero_prefix(zero_means) + what, text);
  return false;
}

}  // namespace

bool parse_size_flag(std::string_view flag, std::string_view text, uint64_t min, uint64_t max, uint64_t& out,
                     std::string& error, const char* zero_means) {
  return parse_bounded(flag, text, min, max, zero_means, parse_size,
                       "a size from " + format_size(min) + " to " + format_size(max) + " (" + kSizeForms + ")", out,
                       error);
}

bool parse_duration_flag(std::string_view flag, std::string_view text, double min, double max, double& out,
                         std::string& error, const char* zero_means) {
  return parse_bounded(flag, text, min, max, zero_means, parse_duration,
                       "a duration from " + format_duration(min) + " to " + format_duration(max) + " (" +
                           kDurationForms + ")",
                       out, error);
}

bool parse_count_flag(std::string_view flag, std::string_view text, uint64_t min, uint64_t max, uint64_t& out,
                      std::string& error, const char* zero_means) {
  return parse_bounded(flag, text, min, max, zero_means, parse_count,
                       "a whole number from " + std::to_string(min) + " to " + std::to_string(max), out, error);
}

bool parse_rate_flag(std::string_view flag, std::string_view text, double min, double max, double& out,
                     std::string& error) {
  return parse_bounded(flag, text, min, max, nullptr, parse_rate,
                       "a rate from " + format_decimal(min) + " to " + format_decimal(max) +
                           " per second (such as 2000, 0.5 or 100/s)",
                       out, error);
}

bool parse_byte_rate_flag(std::string_view flag, std::string_view text, uint64_t min, uint64_t max, uint64_t& out,
                          std::string& error, const char* zero_means) {
  return parse_bounded(flag, text, min, max, zero_means, parse_byte_rate,
                       "bytes per second from " + format_size(min) + " to " + format_size(max) + " (" + kSizeForms +
                           "; '/s' optional)",
                       out, error);
}

}  // namespace wsring::cli
