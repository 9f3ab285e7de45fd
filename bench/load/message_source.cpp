#include "bench/load/message_source.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>

namespace wsring::load {
namespace {

constexpr size_t kMaxTemplateBytes = 1 << 20;
constexpr size_t kMaxTemplates = 1 << 20;
constexpr size_t kMaxFileBytes = 64u << 20;
constexpr size_t kMaxDigits = 20;

void append_number(std::string& out, uint64_t v) {
  char digits[kMaxDigits];
  size_t n = 0;
  do {
    digits[n++] = char('0' + v % 10);
    v /= 10;
  } while (v);
  while (n) out += digits[--n];
}

}  // namespace

MessageSource::Template MessageSource::parse(std::string_view text) {
  static const struct {
    const char* name;
    Field field;
  } kNames[] = {{"{seq}", Field::Seq}, {"{conn}", Field::Conn}, {"{id}", Field::Id}, {"{ts_ns}", Field::TsNs}};
  Template t;
  t.text.assign(text);
  size_t literal_start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '{') continue;
    for (const auto& n : kNames) {
      const size_t len = std::strlen(n.name);
      if (text.substr(i, len) != n.name) continue;
      if (i > literal_start) t.parts.push_back(Part{Field::Literal, uint32_t(literal_start), uint32_t(i - literal_start)});
      t.parts.push_back(Part{n.field, 0, 0});
      t.has_id = t.has_id || n.field == Field::Id;
      i += len - 1;
      literal_start = i + 1;
      break;
    }
  }
  if (text.size() > literal_start)
    t.parts.push_back(Part{Field::Literal, uint32_t(literal_start), uint32_t(text.size() - literal_start)});
  return t;
}

bool MessageSource::add_template(std::string_view text, std::string& error) {
  if (text.empty()) {
    error = "expected a message template, e.g. '{\"id\":{id},\"op\":\"ping\"}'";
    return false;
  }
  if (text.size() > kMaxTemplateBytes) {
    error = "a template may be at most 1 MiB";
    return false;
  }
  if (templates_.size() >= kMaxTemplates) {
    error = "at most 1048576 messages";
    return false;
  }
  templates_.push_back(parse(text));
  return true;
}

bool MessageSource::load_file(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot read " + path + ": " + std::strerror(errno);
    return false;
  }
  std::string line;
  size_t total = 0, number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    total += line.size();
    if (total > kMaxFileBytes) {
      error = path + " holds more than 64 MiB of messages";
      return false;
    }
    if (!add_template(line, error)) {
      error = path + " line " + std::to_string(number) + ": " + error;
      return false;
    }
  }
  if (templates_.empty()) {
    error = path + " holds no message (one per line)";
    return false;
  }
  return true;
}

bool MessageSource::every_template_has_id() const {
  for (const Template& t : templates_)
    if (!t.has_id) return false;
  return !templates_.empty();
}

size_t MessageSource::max_size() const {
  size_t m = 0;
  for (const Template& t : templates_) m = std::max(m, t.text.size() + t.parts.size() * kMaxDigits);
  return m;
}

void MessageSource::render(uint64_t index, const MessageFields& f, std::string& out) const {
  const Template& t = templates_[index % templates_.size()];
  out.clear();
  for (const Part& p : t.parts) {
    switch (p.field) {
      case Field::Literal: out.append(t.text, p.offset, p.length); break;
      case Field::Seq: append_number(out, f.seq); break;
      case Field::Conn: append_number(out, f.conn); break;
      case Field::Id: append_number(out, f.id); break;
      case Field::TsNs: append_number(out, f.ts_ns); break;
    }
  }
}

bool find_reply_id(std::string_view reply, uint64_t& id) {
  reply = reply.substr(0, kReplyIdWindow);
  const size_t key = reply.find("\"id\"");
  if (key == std::string_view::npos) return false;
  size_t i = key + 4;
  auto skip_spaces = [&] {
    while (i < reply.size() && (reply[i] == ' ' || reply[i] == '\t' || reply[i] == '\n' || reply[i] == '\r')) ++i;
  };
  skip_spaces();
  if (i >= reply.size() || reply[i] != ':') return false;
  ++i;
  skip_spaces();
  const bool quoted = i < reply.size() && reply[i] == '"';
  if (quoted) ++i;
  uint64_t v = 0;
  size_t digits = 0;
  while (i < reply.size() && reply[i] >= '0' && reply[i] <= '9' && digits < 19) {
    v = v * 10 + uint64_t(reply[i] - '0');
    ++i;
    ++digits;
  }
  if (digits == 0 || (i < reply.size() && reply[i] >= '0' && reply[i] <= '9')) return false;
  if (quoted && (i >= reply.size() || reply[i] != '"')) return false;
  id = v;
  return true;
}

}  // namespace wsring::load
