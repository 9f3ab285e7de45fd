#include "server/shootout_protocol.hpp"

#include <cstdint>

namespace wsring::server {

namespace {

constexpr int kMaxDepth = 64;

size_t skip_space(std::string_view t, size_t i) {
  while (i < t.size() && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r')) ++i;
  return i;
}

// A string starting at t[i] == '"': the index after its closing quote, or 0.
size_t skip_string(std::string_view t, size_t i) {
  for (++i; i < t.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(t[i]);
    if (c == '"') return i + 1;
    if (c < 0x20) return 0;  // control characters must be escaped
    if (c == '\\' && ++i >= t.size()) return 0;
  }
  return 0;
}

bool is_number_byte(char c) { return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'; }

// A scalar (number or literal) at t[i]: the index after it, or 0.
size_t skip_scalar(std::string_view t, size_t i) {
  for (std::string_view literal : {"true", "false", "null"})
    if (t.substr(i, literal.size()) == literal) return i + literal.size();
  if (t[i] != '-' && (t[i] < '0' || t[i] > '9')) return 0;
  size_t j = i;
  while (j < t.size() && is_number_byte(t[j])) ++j;
  return j;
}

// One value at t[i]: the index after it, or 0. Objects and arrays are checked for structure
// (keys are strings, separators in place), nested at most kMaxDepth.
size_t skip_value(std::string_view t, size_t i, int depth) {
  if (i >= t.size()) return 0;
  if (t[i] == '"') return skip_string(t, i);
  if (t[i] != '{' && t[i] != '[') return skip_scalar(t, i);
  if (depth >= kMaxDepth) return 0;
  const bool object = t[i] == '{';
  const char close = object ? '}' : ']';
  i = skip_space(t, i + 1);
  if (i < t.size() && t[i] == close) return i + 1;
  for (;;) {
    if (object) {
      if (i >= t.size() || t[i] != '"' || !(i = skip_string(t, i))) return 0;
      i = skip_space(t, i);
      if (i >= t.size() || t[i] != ':') return 0;
      i = skip_space(t, i + 1);
    }
    if (!(i = skip_value(t, i, depth + 1))) return 0;
    i = skip_space(t, i);
    if (i >= t.size()) return 0;
    if (t[i] == close) return i + 1;
    if (t[i] != ',') return 0;
    i = skip_space(t, i + 1);
  }
}

}  // namespace

size_t json_value_length(std::string_view text) { return skip_value(text, 0, 0); }

const char* parse_shootout_json(std::string_view m, ShootoutRequest& out) {
  size_t i = skip_space(m, 0);
  if (i >= m.size() || m[i] != '{') return "shootout: expected a JSON object";
  std::string_view type, payload = "null";
  bool have_type = false;
  i = skip_space(m, i + 1);
  if (i < m.size() && m[i] == '}') return "shootout: no \"type\" field";
  for (;;) {
    if (i >= m.size() || m[i] != '"') return "shootout: bad JSON (expected a key)";
    const size_t key_end = skip_string(m, i);
    if (!key_end) return "shootout: bad JSON (unterminated key)";
    const std::string_view key = m.substr(i + 1, key_end - i - 2);
    i = skip_space(m, key_end);
    if (i >= m.size() || m[i] != ':') return "shootout: bad JSON (expected ':')";
    i = skip_space(m, i + 1);
    const size_t value_end = skip_value(m, i, 1);
    if (!value_end) return "shootout: bad JSON value";
    const std::string_view value = m.substr(i, value_end - i);
    if (key == "type") {
      if (value.size() < 2 || value[0] != '"') return "shootout: \"type\" is not a string";
      type = value.substr(1, value.size() - 2);
      have_type = true;
    } else if (key == "payload") {
      payload = value;
    }
    i = skip_space(m, value_end);
    if (i < m.size() && m[i] == ',') {
      i = skip_space(m, i + 1);
      continue;
    }
    if (i >= m.size() || m[i] != '}') return "shootout: bad JSON (expected ',' or '}')";
    break;
  }
  if (skip_space(m, i + 1) != m.size()) return "shootout: bad JSON (text after the object)";
  if (!have_type) return "shootout: no \"type\" field";
  if (type == "echo") out.kind = ShootoutKind::Echo;
  else if (type == "broadcast") out.kind = ShootoutKind::Broadcast;
  else return "shootout: unknown \"type\" (expected \"echo\" or \"broadcast\")";
  out.payload = payload;
  return nullptr;
}

const char* parse_shootout_binary(std::string_view m, ShootoutRequest& out) {
  if (m.empty()) return "shootout: empty binary message (expected 'e' or 'b' first)";
  if (m[0] == 'e') out.kind = ShootoutKind::Echo;
  else if (m[0] == 'b') out.kind = ShootoutKind::Broadcast;
  else return "shootout: unknown binary type (expected 'e' or 'b' first)";
  out.payload = m.substr(1);
  return nullptr;
}

}  // namespace wsring::server
