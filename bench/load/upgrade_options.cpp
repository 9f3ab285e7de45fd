#include "bench/load/upgrade_options.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <strings.h>

#include "server/cli_values.hpp"

namespace wsring::load {
namespace {

constexpr size_t kMaxTokenBytes = 16 * 1024;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool equals_nocase(std::string_view a, const char* b) {
  return a.size() == std::strlen(b) && strncasecmp(a.data(), b, a.size()) == 0;
}

// The headers the client must own, and what to use instead (null: nothing).
const char* owned_header_advice(std::string_view name) {
  static const struct {
    const char* name;
    const char* advice;
  } kOwned[] = {
      {"Host", "it comes from the URL"},
      {"Upgrade", nullptr},
      {"Connection", nullptr},
      {"Sec-WebSocket-Key", nullptr},
      {"Sec-WebSocket-Version", nullptr},
      {"Sec-WebSocket-Accept", nullptr},
      {"Sec-WebSocket-Extensions", "wsring-load negotiates no extension"},
      {"Sec-WebSocket-Protocol", "use --subprotocol"},
      {"Origin", "use --origin"},
      {"Content-Length", "the upgrade request has no body"},
      {"Transfer-Encoding", "the upgrade request has no body"},
  };
  for (const auto& o : kOwned)
    if (equals_nocase(name, o.name)) return o.advice ? o.advice : "";
  return nullptr;
}

bool token_bytes_ok(std::string_view token) {
  for (unsigned char c : token)
    if (c < 0x21 || c == 0x7F) return false;  // a bearer token has no space or control byte (RFC 6750 §2.1)
  return true;
}

bool finish_token(std::string_view raw, const std::string& where, std::string& token, std::string& error) {
  const std::string_view t = trim(raw);
  if (t.empty()) {
    error = where + " is empty";
    return false;
  }
  if (t.size() > kMaxTokenBytes) {
    error = where + " holds more than 16 KiB";
    return false;
  }
  if (!token_bytes_ok(t)) {
    error = where + " holds a space or a control character inside the token";
    return false;
  }
  token.assign(t);
  return true;
}

}  // namespace

bool is_http_token(std::string_view text) {
  if (text.empty()) return false;
  for (unsigned char c : text) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
    if (!ok || c == 0) return false;
  }
  return true;
}

bool parse_header_option(std::string_view text, std::string& name, std::string& value, std::string& error) {
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    error = "expected 'Name: value', got " + cli::quoted(text);
    return false;
  }
  const std::string_view n = text.substr(0, colon);
  const std::string_view v = trim(text.substr(colon + 1));
  if (!is_http_token(n)) {
    error = "the header name must be an HTTP token (letters, digits, !#$%&'*+-.^_`|~), got " + cli::quoted(n);
    return false;
  }
  if (const char* advice = owned_header_advice(n)) {
    error = std::string(n) + " is written by wsring-load itself" + (*advice ? std::string("; ") + advice : std::string());
    return false;
  }
  for (unsigned char c : v) {
    if ((c < 0x20 && c != '\t') || c == 0x7F) {
      error = "the value of " + std::string(n) + " holds a control character";
      return false;
    }
  }
  name.assign(n);
  value.assign(v);
  return true;
}

bool read_token_file(const std::string& path, std::string& token, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot read " + path + ": " + std::strerror(errno);
    return false;
  }
  std::string raw(kMaxTokenBytes + 2, '\0');
  in.read(raw.data(), std::streamsize(raw.size()));
  raw.resize(size_t(in.gcount()));
  return finish_token(raw, "the file " + path, token, error);
}

bool read_token_env(const std::string& name, std::string& token, std::string& error) {
  const char* value = std::getenv(name.c_str());
  if (!value) {
    error = "the environment variable " + name + " is not set";
    return false;
  }
  return finish_token(value, "the environment variable " + name, token, error);
}

size_t UpgradeOptions::request_bytes() const {
  size_t n = origin.size() + 16 + bearer_token.size() + 32;
  for (size_t i = 0; i < header_names.size(); ++i) n += header_names[i].size() + header_values[i].size() + 4;
  for (const std::string& s : subprotocols) n += s.size() + 2;
  return n + 32;
}

std::vector<core::HttpHeader> request_headers(const UpgradeOptions& options, std::string& authorization) {
  std::vector<core::HttpHeader> headers;
  for (size_t i = 0; i < options.header_names.size(); ++i)
    headers.push_back(core::HttpHeader{options.header_names[i], options.header_values[i]});
  if (!options.bearer_token.empty()) {
    authorization = "Bearer " + options.bearer_token;
    headers.push_back(core::HttpHeader{"Authorization", authorization});
  }
  return headers;
}

}  // namespace wsring::load
