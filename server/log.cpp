#include "server/log.hpp"

#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace wsring::server {

namespace {

constexpr const char* kLevelNames[] = {"error", "warn", "info", "debug"};
constexpr size_t kMaxLine = 1024;

// "2026-11-30T11:13:02.123Z"
void append_timestamp(std::string& out) {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t;
  gmtime_r(&ts.tv_sec, &t);
  char text[40];
  const int n = snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", t.tm_year + 1900, t.tm_mon + 1,
                         t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, ts.tv_nsec / 1000000);
  out.append(text, size_t(n));
}

}  // namespace

void append_json_escaped(std::string& out, std::string_view text) {
  for (const char ch : text) {
    const unsigned char u = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (ch == '\n') {
      out += "\\n";
    } else if (u < 0x20 || u == 0x7f) {
      char esc[8];
      snprintf(esc, sizeof esc, "\\u%04x", u);
      out += esc;
    } else {
      out += ch;
    }
  }
}

void Logger::emit(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields) const {
  std::string line;
  line.reserve(256);
  if (format_ == LogFormat::Json) {
    line += "{\"ts\":\"";
    append_timestamp(line);
    line += "\",\"level\":\"";
    line += kLevelNames[int(level)];
    line += "\",\"msg\":\"";
    append_json_escaped(line, msg);
    line += '"';
    for (const LogField& f : fields) {
      line += ",\"";
      append_json_escaped(line, f.key);
      line += "\":";
      if (f.number) {
        line += f.text;
      } else {
        line += '"';
        append_json_escaped(line, f.text);
        line += '"';
      }
    }
    line += "}\n";
  } else {
    append_timestamp(line);
    line += ' ';
    line += kLevelNames[int(level)];
    line += ": ";
    line += msg;
    for (const LogField& f : fields) {
      line += ' ';
      line += f.key;
      line += '=';
      line += f.text;
    }
    line += '\n';
  }
  ssize_t ignored = ::write(2, line.data(), line.size());
  (void)ignored;
}

void Logger::write(LogLevel level, const char* fmt, va_list args) const {
  char text[kMaxLine];
  int n = vsnprintf(text, sizeof text, fmt, args);
  if (n < 0) n = 0;
  if (n >= int(sizeof text)) n = int(sizeof text) - 1;
  emit(level, std::string_view(text, size_t(n)), {});
}

void Logger::event(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields) const {
  if (enabled(level)) emit(level, msg, fields);
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
