// Leveled logging to stderr, one line per event, timestamped; as text or as one JSON object per
// line (--log-format json: ts, level, msg and the event's fields). Thread-safe: each line is
// formatted into a local buffer and written with one write(2).
#pragma once

#include <cstdarg>
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

// Appends `text` as the inside of a JSON string (quotes, backslashes and control bytes escaped;
// bytes >= 0x80 are passed through, so valid UTF-8 stays valid).
void append_json_escaped(std::string& out, std::string_view text);

}  // namespace wsring::server
