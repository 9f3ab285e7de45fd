#include "server/log.hpp"

#include <time.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstring>

namespace wsring::server {

namespace {

constexpr const char* kLevelNames[] = {"error", "warn", "info", "debug"};
constexpr size_t kMaxMessage = 1024;  // a printf-style message; fields may make the line longer
constexpr std::string_view kCutMark = "...\n";

// "2026-11-30T11:13:02.123Z"
void append_timestamp(LogLine& out) {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t;
  gmtime_r(&ts.tv_sec, &t);
  char text[40];
  const int n = snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", t.tm_year + 1900, t.tm_mon + 1,
                         t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, ts.tv_nsec / 1000000);
  out.append(std::string_view(text, size_t(n)));
}

}  // namespace

DecimalField::DecimalField(uint64_t value) {
  const auto result = std::to_chars(text, text + sizeof text, value);
  size = size_t(result.ptr - text);
}

void LogLine::append(std::string_view text) {
  // Room is kept for the newline or the cut mark.
  const size_t room = kCapacity - kCutMark.size() - size_;
  if (text.size() > room) {
    text = text.substr(0, room);
    cut_ = true;
  }
  memcpy(text_ + size_, text.data(), text.size());
  size_ += text.size();
}

void LogLine::append_json_escaped(std::string_view text) {
  for (const char ch : text) {
    const unsigned char u = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      append('\\');
      append(ch);
    } else if (ch == '\n') {
      append("\\n");
    } else if (u < 0x20 || u == 0x7f) {
      char esc[8];
      snprintf(esc, sizeof esc, "\\u%04x", u);
      append(esc);
    } else {
      append(ch);
    }
  }
}

std::string_view LogLine::finish() {
  const std::string_view end = cut_ ? kCutMark : std::string_view("\n");
  memcpy(text_ + size_, end.data(), end.size());
  return std::string_view(text_, size_ + end.size());
}

void Logger::emit(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields) const {
  LogLine line;
  if (format_ == LogFormat::Json) {
    line.append("{\"ts\":\"");
    append_timestamp(line);
    line.append("\",\"level\":\"");
    line.append(kLevelNames[int(level)]);
    line.append("\",\"msg\":\"");
    line.append_json_escaped(msg);
    line.append('"');
    for (const LogField& f : fields) {
      line.append(",\"");
      line.append_json_escaped(f.key);
      line.append("\":");
      if (f.number) {
        line.append(f.text);
      } else {
        line.append('"');
        line.append_json_escaped(f.text);
        line.append('"');
      }
    }
    line.append('}');
  } else {
    append_timestamp(line);
    line.append(' ');
    line.append(kLevelNames[int(level)]);
    line.append(": ");
    line.append(msg);
    for (const LogField& f : fields) {
      line.append(' ');
      line.append(f.key);
      line.append('=');
      line.append(f.text);
    }
  }
  const std::string_view text = line.finish();
  ssize_t ignored = ::write(2, text.data(), text.size());
  (void)ignored;
}

void Logger::write(LogLevel level, const char* fmt, va_list args) const {
  char text[kMaxMessage];
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
