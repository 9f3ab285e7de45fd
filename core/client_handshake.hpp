// Client (Dial) side of the WebSocket opening handshake, RFC 6455 §4.1: the request, the check
// of the server's 101 answer, and masking keys for client frames. Used by the load generator
// and the tests. Nothing here allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "core/http_request.hpp"

namespace wsring::core {

constexpr size_t kClientKeySize = 24;
// 16 bytes from OpenSSL RAND_bytes (a CSPRNG), base64 -> 24 chars (no NUL).
void generate_client_key(char out[kClientKeySize]);

struct ClientRequestOptions {
  std::string_view host;                           // Host header value, "host[:port]"
  std::string_view path = "/";                     // request target; empty means "/"
  std::span<const std::string_view> subprotocols;  // offered, joined into one Sec-WebSocket-Protocol
  std::span<const HttpHeader> extra_headers;
  std::string_view origin;                         // Origin header, omitted if empty
};
// Writes the GET upgrade request. Header names/values (host, origin, subprotocols, extras) have
// control bytes replaced by a space. Returns bytes written; 0 if it does not fit, or if path
// contains a space or control byte (it would corrupt the request line).
size_t write_client_request(std::span<char> dst, std::string_view key, const ClientRequestOptions& opts);

enum class ClientHandshakeError : uint8_t {
  None,
  NeedMore,
  Malformed,             // not a valid HTTP/1.1 response head
  TooLarge,              // head longer than max_bytes, or too many headers
  BadStatus,             // status other than 101
  MissingUpgrade,        // no Upgrade: websocket
  MissingConnection,     // no Connection: upgrade
  BadAccept,             // Sec-WebSocket-Accept missing, repeated or wrong for our key
  UnofferedSubprotocol,  // Sec-WebSocket-Protocol not exactly one of those offered
  UnrequestedExtension,  // Sec-WebSocket-Extensions present although the client offered none
};
const char* to_string(ClientHandshakeError error);

struct ClientHandshakeResult {
  ClientHandshakeError error = ClientHandshakeError::NeedMore;
  size_t consumed = 0;           // bytes of the response head (frames may follow)
  int status = 0;
  std::string_view subprotocol;  // views the input
  std::string_view extensions;   // Sec-WebSocket-Extensions, when the client offered any (views the input)
  std::string_view body_start;   // on BadStatus: up to 256 bytes after the head, for debugging
};

// Checks the server's answer to a request sent with `key`. Incremental: NeedMore until the head
// is complete (or max_bytes are exceeded: TooLarge).
// `extensions_offered`: the request carried Sec-WebSocket-Extensions, so one such header in the
// response is allowed (the caller checks what it agrees to); otherwise any is an error.
ClientHandshakeResult validate_upgrade_response(std::string_view input, std::string_view key,
                                                std::span<const std::string_view> offered_subprotocols,
                                                size_t max_bytes = 8192, bool extensions_offered = false);

// Masking keys for client frames (RFC 6455 §5.3: unpredictable). Keys are drawn from a 4 KiB
// block filled by OpenSSL RAND_bytes (a CSPRNG) and consumed 4 bytes at a time, so one RAND call
// serves 1024 frames: cheap per frame, still unpredictable. Not thread-safe: one MaskKeySource
// per thread/reactor.
class MaskKeySource {
 public:
  void next(uint8_t out[4]);

 private:
  void refill();

  static constexpr size_t kBlockSize = 4096;
  uint8_t block_[kBlockSize];
  size_t next_offset_ = kBlockSize;  // empty until first use
};

}  // namespace wsring::core
