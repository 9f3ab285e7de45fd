#include "core/handshake.hpp"

#include <charconv>
#include <cstdint>
#include <cstring>

// OpenSSL 3's one-shot SHA1() fetches the algorithm from the provider and allocates a context on
// every call (~340 ns here); the low-level SHA1_* functions are deprecated but hash in place with
// no allocation (~90 ns with SHA-NI). The accept key is on the accept path, so use the latter.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "core/head_writer.hpp"

namespace wsring::core {
namespace {

constexpr std::string_view kWebSocketGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

// EVP_EncodeBlock NUL-terminates: out needs kAcceptKeySize + 1 bytes.
void encode_accept_key(std::string_view key, char* out) {
  SHA_CTX sha;
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1_Init(&sha);
  SHA1_Update(&sha, key.data(), key.size());
  SHA1_Update(&sha, kWebSocketGuid.data(), kWebSocketGuid.size());
  SHA1_Final(digest, &sha);
  EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out), digest, SHA_DIGEST_LENGTH);
}

bool is_base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

// 16 bytes encode to 22 base64 characters and "==" padding.
bool is_base64_of_16_bytes(std::string_view key) {
  if (key.size() != 24 || key[22] != '=' || key[23] != '=') return false;
  for (size_t i = 0; i < 22; ++i) {
    if (!is_base64_char(key[i])) return false;
  }
  return true;
}

// The path of a request target: origin-form "/p?q" -> "/p"; absolute-form "http://h/p?q" -> "/p".
std::string_view target_path(std::string_view target) {
  std::string_view path = target.substr(0, target.find('?'));
  if (!path.empty() && path.front() != '/') {
    const size_t scheme_end = path.find("://");
    if (scheme_end != std::string_view::npos) {
      const size_t path_begin = path.find('/', scheme_end + 3);
      path = path_begin == std::string_view::npos ? std::string_view("/") : path.substr(path_begin);
    }
  }
  return path;
}

// Subprotocol names compare case-sensitively (RFC 6455 §4.1: the server must echo one the
// client offered), so this is an exact token match, unlike Connection/Upgrade.
bool offers_subprotocol(const UpgradeRequest& req, std::string_view name) {
  for (const HttpHeader& header : req.header_list()) {
    if (!ascii_iequals(header.name, "Sec-WebSocket-Protocol")) continue;
    std::string_view rest = header.value;
    while (true) {
      const size_t comma = rest.find(',');
      std::string_view token = rest.substr(0, comma);
      while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) token.remove_prefix(1);
      while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
      if (token == name) return true;
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return false;
}

bool origin_allowed(std::string_view origin, std::string_view host, const HandshakePolicy& policy) {
  const size_t scheme_end = origin.find("://");
  if (scheme_end != std::string_view::npos && ascii_iequals(origin.substr(scheme_end + 3), host)) {
    return true;
  }
  for (std::string_view allowed : policy.allowed_origins) {
    if (allowed == "*" || ascii_iequals(allowed, origin)) return true;
  }
  return false;
}

HandshakeDecision reject(int status, const char* reason) {
  HandshakeDecision decision;
  decision.status = status;
  decision.reason = reason;
  return decision;
}

}  // namespace

std::string_view reason_phrase(int status) {
  switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

HandshakeDecision validate_upgrade(const UpgradeRequest& req, const HandshakePolicy& policy) {
  if (req.method != "GET") return reject(405, "method not allowed: the WebSocket handshake is a GET");
  if (req.version_major < 1 || (req.version_major == 1 && req.version_minor < 1)) {
    return reject(400, "HTTP/1.1 or later required");
  }
  if (!policy.path.empty() && target_path(req.target) != policy.path) {
    return reject(404, "no WebSocket endpoint at this path");
  }

  const size_t host_count = req.count("Host");
  if (host_count == 0) return reject(400, "missing Host header");
  if (host_count > 1) return reject(400, "repeated Host header");
  const std::string_view host = req.header("Host");
  if (host.empty()) return reject(400, "empty Host header");

  if (req.has("Transfer-Encoding")) return reject(400, "Transfer-Encoding not allowed in a WebSocket handshake");
  for (const HttpHeader& header : req.header_list()) {
    if (ascii_iequals(header.name, "Content-Length") && header.value != "0") {
      return reject(400, "Content-Length not allowed in a WebSocket handshake");
    }
  }

  if (!req.has_token("Upgrade", "websocket") || !req.has_token("Connection", "upgrade")) {
    HandshakeDecision decision =
        reject(426, req.has_token("Upgrade", "websocket")
                        ? "Connection header must contain the token 'upgrade'"
                        : "Upgrade header must contain the token 'websocket'");
    decision.plain_http = !req.has("Upgrade") && !req.has("Sec-WebSocket-Key");
    return decision;
  }

  if (req.count("Sec-WebSocket-Version") != 1 || req.header("Sec-WebSocket-Version") != "13") {
    HandshakeDecision decision = reject(426, "Sec-WebSocket-Version must be 13");
    decision.version_mismatch = true;
    return decision;
  }

  const size_t key_count = req.count("Sec-WebSocket-Key");
  if (key_count == 0) return reject(400, "missing Sec-WebSocket-Key header");
  if (key_count > 1) return reject(400, "repeated Sec-WebSocket-Key header");
  const std::string_view key = req.header("Sec-WebSocket-Key");
  if (!is_base64_of_16_bytes(key)) return reject(400, "Sec-WebSocket-Key must be base64 of 16 bytes");

  const size_t origin_count = req.count("Origin");
  if (origin_count > 1) return reject(403, "repeated Origin header");
  if (origin_count == 1 && !origin_allowed(req.header("Origin"), host, policy)) {
    return reject(403, "Origin not allowed");
  }

  HandshakeDecision decision;
  decision.status = 101;
  decision.key = key;
  for (std::string_view candidate : policy.subprotocols) {
    if (!candidate.empty() && offers_subprotocol(req, candidate)) {
      decision.subprotocol = candidate;
      break;
    }
  }
  return decision;
}

void compute_accept_key(std::string_view key, char out[kAcceptKeySize]) {
  char encoded[kAcceptKeySize + 1];
  encode_accept_key(key, encoded);
  std::memcpy(out, encoded, kAcceptKeySize);
}

size_t write_upgrade_response(std::span<char> dst, std::string_view key, std::string_view subprotocol,
                              std::span<const HttpHeader> extra_headers) {
  HeadWriter out(dst);
  out.raw(
      "HTTP/1.1 101 Switching Protocols\r\n"
      "Upgrade: websocket\r\n"
      "Connection: Upgrade\r\n"
      "Sec-WebSocket-Accept: ");
  // The encoder's NUL lands where the CR goes next, so the accept is computed in place.
  if (char* accept = out.reserve(kAcceptKeySize + 2)) {
    encode_accept_key(key, accept);
    accept[kAcceptKeySize] = '\r';
    accept[kAcceptKeySize + 1] = '\n';
  }
  if (!subprotocol.empty()) {
    out.raw("Sec-WebSocket-Protocol: ");
    out.neutralised(subprotocol);
    out.raw("\r\n");
  }
  for (const HttpHeader& header : extra_headers) {
    out.neutralised(header.name);
    out.raw(": ");
    out.neutralised(header.value);
    out.raw("\r\n");
  }
  out.raw("\r\n");
  return out.finish();
}

namespace {

void write_status_line(HeadWriter& out, int status) {
  if (status < 100 || status > 999) status = 500;
  out.raw("HTTP/1.1 ");
  out.number(static_cast<size_t>(status));
  out.raw(" ");
  out.raw(reason_phrase(status));
  out.raw("\r\n");
}

}  // namespace

size_t write_error_response(std::span<char> dst, int status, std::string_view body,
                            bool version_mismatch) {
  HeadWriter out(dst);
  write_status_line(out, status);
  out.raw("Content-Type: text/plain; charset=utf-8\r\nContent-Length: ");
  out.number(body.size() + 1);
  out.raw("\r\nConnection: close\r\n");
  if (status == 405) out.raw("Allow: GET\r\n");
  if (status == 426) {
    out.raw("Upgrade: websocket\r\n");
    if (version_mismatch) out.raw("Sec-WebSocket-Version: 13\r\n");
  }
  out.raw("\r\n");
  out.raw(body);
  out.raw("\n");
  return out.finish();
}

size_t write_http_response(std::span<char> dst, int status, std::string_view content_type,
                           std::string_view body) {
  HeadWriter out(dst);
  write_status_line(out, status);
  out.raw("Content-Type: ");
  out.neutralised(content_type);
  out.raw("\r\nContent-Length: ");
  out.number(body.size());
  out.raw("\r\nConnection: close\r\n\r\n");
  out.raw(body);
  return out.finish();
}

}  // namespace wsring::core
