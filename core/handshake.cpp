#include "core/handshake.hpp"

#include <array>
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

constexpr std::array<bool, 256> make_base64_table() {
  std::array<bool, 256> table{};
  for (int c = 'A'; c <= 'Z'; ++c) table[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) table[c] = true;
  for (int c = '0'; c <= '9'; ++c) table[c] = true;
  table['+'] = true;
  table['/'] = true;
  return table;
}
constexpr std::array<bool, 256> kBase64Char = make_base64_table();

// 16 bytes encode to 22 base64 characters and "==" padding. (The low bits of the last
// character are not required to be zero: any such key still decodes to 16 bytes.)
bool is_base64_of_16_bytes(std::string_view key) {
  if (key.size() != 24 || key[22] != '=' || key[23] != '=') return false;
  bool all_base64 = true;  // no early exit: one predictable loop
  for (size_t i = 0; i < 22; ++i) all_base64 &= kBase64Char[static_cast<unsigned char>(key[i])];
  return all_base64;
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
  if (policy.allowed_origins.empty()) return true;
  const size_t scheme_end = origin.find("://");
  if (scheme_end != std::string_view::npos && ascii_iequals(origin.substr(scheme_end + 3), host)) {
    return true;
  }
  for (std::string_view allowed : policy.allowed_origins) {
    if (allowed == "*" || ascii_iequals(allowed, origin)) return true;
  }
  return false;
}

// The headers the handshake depends on, gathered in one pass over the list (a lookup per
// question would walk the list a dozen times).
struct HandshakeHeaders {
  std::string_view host, version, key, origin;  // first instance of each
  size_t host_count = 0, version_count = 0, key_count = 0, origin_count = 0;
  bool has_upgrade = false, upgrade_websocket = false, connection_upgrade = false;
  bool has_transfer_encoding = false, has_body_length = false, has_protocol = false;
};

void note(std::string_view value, std::string_view& first, size_t& count) {
  if (count++ == 0) first = value;
}

HandshakeHeaders collect_handshake_headers(const UpgradeRequest& req) {
  HandshakeHeaders h;
  for (const HttpHeader& header : req.header_list()) {
    const std::string_view name = header.name;
    // Dispatch on the length first: most headers are then rejected without comparing bytes.
    switch (name.size()) {
      case 4:
        if (ascii_iequals(name, "Host")) note(header.value, h.host, h.host_count);
        break;
      case 6:
        if (ascii_iequals(name, "Origin")) note(header.value, h.origin, h.origin_count);
        break;
      case 7:
        if (ascii_iequals(name, "Upgrade")) {
          h.has_upgrade = true;
          h.upgrade_websocket = h.upgrade_websocket || list_has_token(header.value, "websocket");
        }
        break;
      case 10:
        if (ascii_iequals(name, "Connection")) {
          h.connection_upgrade = h.connection_upgrade || list_has_token(header.value, "upgrade");
        }
        break;
      case 14:
        if (ascii_iequals(name, "Content-Length") && header.value != "0") h.has_body_length = true;
        break;
      case 17:
        if (ascii_iequals(name, "Sec-WebSocket-Key")) {
          note(header.value, h.key, h.key_count);
        } else if (ascii_iequals(name, "Transfer-Encoding")) {
          h.has_transfer_encoding = true;
        }
        break;
      case 21:
        if (ascii_iequals(name, "Sec-WebSocket-Version")) note(header.value, h.version, h.version_count);
        break;
      case 22:
        if (ascii_iequals(name, "Sec-WebSocket-Protocol")) h.has_protocol = true;
        break;
      default:
        break;
    }
  }
  return h;
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
  if (!policy.path.empty() && target_path(req.target) != policy.path) {
    return reject(404, "no WebSocket endpoint at this path");
  }

  const HandshakeHeaders h = collect_handshake_headers(req);
  if (h.host_count == 0) return reject(400, "missing Host header");
  if (h.host_count > 1) return reject(400, "repeated Host header");
  if (h.host.empty()) return reject(400, "empty Host header");
  if (!is_valid_host(h.host)) return reject(400, "Host header is not a valid host[:port]");
  if (h.has_transfer_encoding) return reject(400, "Transfer-Encoding not allowed in a WebSocket handshake");
  if (h.has_body_length) return reject(400, "Content-Length not allowed in a WebSocket handshake");

  if (!h.upgrade_websocket || !h.connection_upgrade) {
    HandshakeDecision decision = reject(426, h.upgrade_websocket
                                                 ? "Connection header must contain the token 'upgrade'"
                                                 : "Upgrade header must contain the token 'websocket'");
    decision.plain_http = !h.has_upgrade && h.key_count == 0;
    return decision;
  }

  if (h.version_count != 1 || h.version != "13") {
    HandshakeDecision decision = reject(426, "Sec-WebSocket-Version must be 13");
    decision.version_mismatch = true;
    return decision;
  }

  if (h.key_count == 0) return reject(400, "missing Sec-WebSocket-Key header");
  if (h.key_count > 1) return reject(400, "repeated Sec-WebSocket-Key header");
  if (!is_base64_of_16_bytes(h.key)) return reject(400, "Sec-WebSocket-Key must be base64 of 16 bytes");

  if (h.origin_count > 1) return reject(403, "repeated Origin header");
  if (h.origin_count == 1 && !origin_allowed(h.origin, h.host, policy)) {
    return reject(403, "Origin not allowed: neither this server's own nor one given with --allow-origin");
  }

  HandshakeDecision decision;
  decision.status = 101;
  decision.key = h.key;
  if (h.has_protocol) {
    for (std::string_view candidate : policy.subprotocols) {
      if (!candidate.empty() && offers_subprotocol(req, candidate)) {
        decision.subprotocol = candidate;
        break;
      }
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

}  // namespace wsring::core
