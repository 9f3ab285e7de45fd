#include "core/client_handshake.hpp"

#include <algorithm>
#include <cstring>
#include <random>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/handshake.hpp"
#include "core/head_writer.hpp"

namespace wsring::core {
namespace {

// RAND_bytes practically never fails once OpenSSL's DRBG is seeded; should it, fall back to the
// kernel's generator through std::random_device rather than hand out predictable bytes.
void fill_random(uint8_t* out, size_t size) {
  if (RAND_bytes(out, static_cast<int>(size)) == 1) return;
  std::random_device kernel;
  for (size_t i = 0; i < size; ++i) out[i] = static_cast<uint8_t>(kernel());
}

constexpr size_t kMaxResponseHeaders = 64;
constexpr size_t kBodyPreviewSize = 256;

// "HTTP/1.1 101 Switching Protocols"; the reason phrase may be empty or absent.
bool parse_status_line(std::string_view line, int& status) {
  if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || line[7] < '1' || line[7] > '9' ||
      line[8] != ' ') {
    return false;
  }
  status = 0;
  for (size_t i = 9; i < 12; ++i) {
    if (line[i] < '0' || line[i] > '9') return false;
    status = status * 10 + (line[i] - '0');
  }
  return line.size() == 12 || line[12] == ' ';
}

ClientHandshakeResult fail(ClientHandshakeError error, size_t consumed, int status) {
  ClientHandshakeResult result;
  result.error = error;
  result.consumed = consumed;
  result.status = status;
  return result;
}

}  // namespace

void generate_client_key(char out[kClientKeySize]) {
  uint8_t nonce[16];
  fill_random(nonce, sizeof nonce);
  char encoded[kClientKeySize + 1];  // EVP_EncodeBlock appends a NUL
  EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded), nonce, sizeof nonce);
  std::memcpy(out, encoded, kClientKeySize);
}

size_t write_client_request(std::span<char> dst, std::string_view key, const ClientRequestOptions& opts) {
  const std::string_view path = opts.path.empty() ? std::string_view("/") : opts.path;
  for (char c : path) {
    const unsigned char byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7F) return 0;
  }
  HeadWriter out(dst);
  out.raw("GET ");
  out.raw(path);
  out.raw(" HTTP/1.1\r\nHost: ");
  out.neutralised(opts.host);
  out.raw(
      "\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\n"
      "Sec-WebSocket-Key: ");
  out.neutralised(key);
  out.raw("\r\nSec-WebSocket-Version: 13\r\n");
  if (!opts.origin.empty()) {
    out.raw("Origin: ");
    out.neutralised(opts.origin);
    out.raw("\r\n");
  }
  if (!opts.subprotocols.empty()) {
    out.raw("Sec-WebSocket-Protocol: ");
    for (size_t i = 0; i < opts.subprotocols.size(); ++i) {
      if (i != 0) out.raw(", ");
      out.neutralised(opts.subprotocols[i]);
    }
    out.raw("\r\n");
  }
  for (const HttpHeader& header : opts.extra_headers) {
    out.neutralised(header.name);
    out.raw(": ");
    out.neutralised(header.value);
    out.raw("\r\n");
  }
  out.raw("\r\n");
  return out.finish();
}

const char* to_string(ClientHandshakeError error) {
  switch (error) {
    case ClientHandshakeError::None: return "none";
    case ClientHandshakeError::NeedMore: return "incomplete response";
    case ClientHandshakeError::Malformed: return "malformed HTTP response";
    case ClientHandshakeError::TooLarge: return "response head too large";
    case ClientHandshakeError::BadStatus: return "status is not 101 Switching Protocols";
    case ClientHandshakeError::MissingUpgrade: return "missing 'Upgrade: websocket'";
    case ClientHandshakeError::MissingConnection: return "missing 'Connection: upgrade'";
    case ClientHandshakeError::BadAccept: return "missing or wrong Sec-WebSocket-Accept";
    case ClientHandshakeError::UnofferedSubprotocol: return "server chose a subprotocol not offered";
    case ClientHandshakeError::UnrequestedExtension: return "server enabled an extension not requested";
  }
  return "unknown handshake error";
}

ClientHandshakeResult validate_upgrade_response(std::string_view input, std::string_view key,
                                                std::span<const std::string_view> offered_subprotocols,
                                                size_t max_bytes, bool extensions_offered) {
  // As in the request parser, look only at what may legally form the head.
  const std::string_view window = input.substr(0, std::min(input.size(), max_bytes));
  const ClientHandshakeError incomplete =
      input.size() >= max_bytes ? ClientHandshakeError::TooLarge : ClientHandshakeError::NeedMore;

  const HeadLine status_line = next_head_line(window, 0);
  if (status_line.status == ParseStatus::NeedMore) return fail(incomplete, 0, 0);
  if (status_line.status == ParseStatus::Error) return fail(ClientHandshakeError::Malformed, 0, 0);
  int status = 0;
  if (!parse_status_line(status_line.text, status)) return fail(ClientHandshakeError::Malformed, 0, 0);

  HttpHeader storage[kMaxResponseHeaders];
  size_t header_count = 0;
  const ParseResult fields = parse_header_fields(window, status_line.next, storage, header_count);
  if (fields.status == ParseStatus::NeedMore) return fail(incomplete, 0, status);
  if (fields.status == ParseStatus::Error) {
    return fail(fields.http_status == 431 ? ClientHandshakeError::TooLarge : ClientHandshakeError::Malformed,
                0, status);
  }
  const size_t consumed = fields.consumed;
  const std::span<const HttpHeader> headers(storage, header_count);

  if (status != 101) {
    ClientHandshakeResult result = fail(ClientHandshakeError::BadStatus, consumed, status);
    result.body_start = input.substr(consumed, kBodyPreviewSize);
    return result;
  }
  if (!headers_have_token(headers, "Upgrade", "websocket")) {
    return fail(ClientHandshakeError::MissingUpgrade, consumed, status);
  }
  if (!headers_have_token(headers, "Connection", "upgrade")) {
    return fail(ClientHandshakeError::MissingConnection, consumed, status);
  }
  char expected_accept[kAcceptKeySize];
  compute_accept_key(key, expected_accept);
  if (count_headers(headers, "Sec-WebSocket-Accept") != 1 ||
      find_header(headers, "Sec-WebSocket-Accept") != std::string_view(expected_accept, kAcceptKeySize)) {
    return fail(ClientHandshakeError::BadAccept, consumed, status);
  }

  ClientHandshakeResult result = fail(ClientHandshakeError::None, consumed, status);
  const size_t protocol_count = count_headers(headers, "Sec-WebSocket-Protocol");
  if (protocol_count > 1) return fail(ClientHandshakeError::UnofferedSubprotocol, consumed, status);
  if (protocol_count == 1) {
    const std::string_view chosen = find_header(headers, "Sec-WebSocket-Protocol");
    // One exact (case-sensitive) name from our list; a list or an empty value is not a choice.
    if (std::find(offered_subprotocols.begin(), offered_subprotocols.end(), chosen) ==
            offered_subprotocols.end() ||
        chosen.empty()) {
      return fail(ClientHandshakeError::UnofferedSubprotocol, consumed, status);
    }
    result.subprotocol = chosen;
  }
  const size_t extension_count = count_headers(headers, "Sec-WebSocket-Extensions");
  if (extension_count > (extensions_offered ? 1u : 0u)) {
    return fail(ClientHandshakeError::UnrequestedExtension, consumed, status);
  }
  if (extension_count == 1) result.extensions = find_header(headers, "Sec-WebSocket-Extensions");
  return result;
}

void MaskKeySource::refill() {
  fill_random(block_, kBlockSize);
  next_offset_ = 0;
}

void MaskKeySource::next(uint8_t out[4]) {
  if (next_offset_ + 4 > kBlockSize) refill();
  std::memcpy(out, block_ + next_offset_, 4);
  next_offset_ += 4;
}

}  // namespace wsring::core
