// Server side of the WebSocket opening handshake (RFC 6455 §4.2.1 validation, §4.2.2 answer),
// plus the error responses a WebSocket server sends. Writes go into caller buffers;
// nothing is allocated.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

#include "core/http_request.hpp"

namespace wsring::core {

struct HandshakePolicy {
  // Empty = any target path accepted; else exact match of the path part (before '?'; for an
  // absolute-form target "http://host/p" the path is "/p") -> else 404.
  std::string_view path;
  std::span<const std::string_view> subprotocols;     // server preference order (case-sensitive)
  // Empty (the default): any Origin is accepted. An echo server holds no credentials or per-user
  // state, so a page from another site that opens a WebSocket to it (cross-site WebSocket
  // hijacking) has nothing to steal. Non-empty: exact origins "http://host:port"
  // (case-insensitive), besides the server's own; "*" listed allows any.
  std::span<const std::string_view> allowed_origins;
};

struct HandshakeDecision {
  int status = 0;                // 101 accept, else the HTTP error status to answer
  const char* reason = nullptr;  // short plain-text body for errors: names the header at fault
  std::string_view key;          // Sec-WebSocket-Key (when 101)
  std::string_view subprotocol;  // selected, empty if none (when 101); views the policy's entry
  bool plain_http = false;       // a plain GET without any Upgrade intent (no Upgrade header and no
                                 // Sec-WebSocket-Key): the server may serve an HTML page instead of 426
  bool version_mismatch = false; // 426 because of Sec-WebSocket-Version: pass to write_error_response
};

// Checks in this order (the first failure decides):
//   method != GET -> 405; path mismatch -> 404; Host missing, empty, repeated or not a valid
//   host[:port] -> 400; a request body (Transfer-Encoding, or Content-Length other than 0) -> 400,
//   since bytes after the head are read as frames; Connection without token "upgrade" or
//   Upgrade without token "websocket" -> 426; Sec-WebSocket-Version not exactly one "13" -> 426
//   (version_mismatch); Sec-WebSocket-Key missing, repeated or not base64 of 16 bytes -> 400;
//   Origin not allowed (or repeated) -> 403.
// (The HTTP version, HTTP/1.1 only, and the request-target form are checked by the parser.)
// Origin policy: with allowed_origins empty every Origin passes. Otherwise a request without
// Origin passes (not a browser); an Origin whose host[:port] equals Host (case-insensitive) passes; any
// other must be listed in allowed_origins, or "*" listed. The 403 names --allow-origin, the
// server's flag that sets the list.
HandshakeDecision validate_upgrade(const UpgradeRequest& req, const HandshakePolicy& policy);

constexpr size_t kAcceptKeySize = 28;
// base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")), written to out (no NUL).
void compute_accept_key(std::string_view key, char out[kAcceptKeySize]);

// Writes the whole 101 response into dst; returns bytes written, 0 if it does not fit.
// Accept computed straight into dst. subprotocol and extra_headers names/values are neutralised:
// CR, LF and other control bytes are replaced by a space so they cannot split the response.
size_t write_upgrade_response(std::span<char> dst, std::string_view key, std::string_view subprotocol,
                              std::span<const HttpHeader> extra_headers = {});

// Writes an error response: status line with the standard reason phrase, Content-Type: text/plain,
// Content-Length, Connection: close, the headers the status needs (405 -> Allow: GET; 426 ->
// Upgrade: websocket and, for a version mismatch, Sec-WebSocket-Version: 13), and body + "\n".
// Returns bytes written, 0 if it does not fit. A status outside 100..999 is written as 500.
size_t write_error_response(std::span<char> dst, int status, std::string_view body,
                            bool version_mismatch = false);

// Standard reason phrase for a status ("Not Found"), "Unknown" for unlisted codes.
std::string_view reason_phrase(int status);

}  // namespace wsring::core
