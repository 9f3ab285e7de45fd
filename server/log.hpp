// Leveled logging to stderr, one line per event, timestamped. Thread-safe: each line is
// formatted into a local buffer and written with one write(2).
#pragma once

#include <cstdarg>

#include "server/config.hpp"

namespace wsring::server {

class Logger {
 public:
  explicit Logger(LogLevel level) : level_(level) {}
  bool enabled(LogLevel level) const { return level <= level_; }
  void error(const char* fmt, ...) const __attribute__((format(printf, 2, 3)));
  void warn(const char* fmt, ...) const __attribute__((format(printf, 2, 3)));
  void info(const char* fmt, ...) const __attribute__((format(printf, 2, 3)));
  void debug(const char* fmt, ...) const __attribute__((format(printf, 2, 3)));

 private:
  void write(LogLevel level, const char* fmt, va_list args) const;
  LogLevel level_;
};

}  // namespace wsring::server
