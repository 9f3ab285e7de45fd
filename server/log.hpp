// Leveled logging to stderr, one line per event, timestamped; as text or as one JSON object per
// line (--log-format json: ts, level, msg and the event's fields). Thread-safe: each line is
// formatted into a local buffer and written with one write(2). Logging never allocates: a line
// is formed on the stack (cut short, marked "...", past LogLine::kCapacity), so a log call is
// safe where memory has run out.
#pragma once

#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string_view>

#include "server/config.hpp"

namespace wsring::server {

// A named value of a structured event: a number is written bare in JSON, text quoted.
struct LogField {
  std::string_view key;
  std::string_view text;
  bool number = false;
};

// A number as the text of a LogField, formed without allocating.
struct DecimalField {
  explicit DecimalField(uint64_t value);
  operator std::string_view() const { return std::string_view(text, size); }
  char text[24];
  size_t size;
};

class Logger {
 public:
  explicit Logger(LogLevel level, LogFormat format = LogFormat::Text) : level_(level), format_(format) {}
  bool enabled(LogLevel level) const { return level <= level_; }
  void error(const char* fmt, ...) const __attribute__((format(printf, 2, 3)));
  void warn(const char* fmt, ...) const __attribute__((format(printf, 2, 3)));
  void info(const char* fmt, ...) const __attribute__((format(printf, 2, 3)));
  void debug(const char* fmt, ...) const __attribute__((format(printf, 2, 3)));
  // A structured event: text "msg key=value ...", JSON {"ts":..,"level":..,"msg":..,"key":value,...}.
  void event(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields) const;
  // An info event written whatever --log-level says: the answer to an explicit request (SIGUSR1).
  void report(std::string_view msg, std::initializer_list<LogField> fields) const { emit(LogLevel::Info, msg, fields); }

 private:
  void write(LogLevel level, const char* fmt, va_list args) const;
  void emit(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields) const;
  LogLevel level_;
  LogFormat format_;
};

// One log line being formed: a fixed buffer that keeps what fits and remembers the rest was cut.
class LogLine {
 public:
  static constexpr size_t kCapacity = 16384;
  void append(std::string_view text);
  void append(char ch) { append(std::string_view(&ch, 1)); }
  LogLine& operator+=(std::string_view text) {
    append(text);
    return *this;
  }
  LogLine& operator+=(char ch) {
    append(ch);
    return *this;
  }
  bool empty() const { return size_ == 0; }
  std::string_view text() const { return std::string_view(text_, size_); }  // without the newline
  // Appends `text` as the inside of a JSON string (quotes, backslashes and control bytes escaped;
  // bytes >= 0x80 are passed through, so valid UTF-8 stays valid).
  void append_json_escaped(std::string_view text);
  // The line with its newline; a cut line ends in "...\n".
  std::string_view finish();

 private:
  char text_[kCapacity];
  size_t size_ = 0;
  bool cut_ = false;
};

}  // namespace wsring::server
