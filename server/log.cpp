#include "server/log.hpp"

#include <time.h>
#include <unistd.h>

#include <cstdio>

namespace wsring::server {

void Logger::write(LogLevel level, const char* fmt, va_list args) const {
  static const char* const kNames[] = {"error", "warn", "info", "debug"};
  char line[1024];
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t;
  gmtime_r(&ts.tv_sec, &t);
  int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s: ", t.tm_year + 1900, t.tm_mon + 1,
                   t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, ts.tv_nsec / 1000000, kNames[int(level)]);
  n += vsnprintf(line + n, sizeof line - size_t(n) - 1, fmt, args);
  if (n > int(sizeof line) - 2) n = int(sizeof line) - 2;
  line[n++] = '\n';
  ssize_t ignored = ::write(2, line, size_t(n));
  (void)ignored;
}

#define WSRING_LOG_AT(name, level)                 \
  void Logger::name(const char* fmt, ...) const {  \
    if (!enabled(level)) return;                   \
    va_list args;                                  \
    va_start(args, fmt);                           \
    write(level, fmt, args);                       \
    va_end(args);                                  \
  }
WSRING_LOG_AT(error, LogLevel::Error)
WSRING_LOG_AT(warn, LogLevel::Warn)
WSRING_LOG_AT(info, LogLevel::Info)
WSRING_LOG_AT(debug, LogLevel::Debug)
#undef WSRING_LOG_AT

}  // namespace wsring::server
