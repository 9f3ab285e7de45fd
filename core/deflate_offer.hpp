// permessage-deflate negotiation (RFC 7692 §5, §7.1): the client's offers in
// Sec-WebSocket-Extensions, the server's choice among them, and the response header value.
// Sans-I/O: views into the request, the response written into a caller buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "core/http_request.hpp"

namespace wsring::core {

// Window sizes the server agrees to, as log2 of bytes. RFC 7692 allows 8..15, but zlib's raw
// deflate cannot use a 256-byte window: asked for 8 it silently compresses with 9, so its output
// could refer 512 bytes back, beyond what a peer inflating with 256 bytes keeps. The server
// therefore never agrees to compress with 8 (an offer that demands server_max_window_bits=8 is
// unacceptable) and never asks the client for less than 9. Inflating a peer's 8-bit stream is
// fine: a larger window reads a smaller one.
constexpr uint8_t kMinWindowBits = 9;
constexpr uint8_t kMaxWindowBits = 15;

// One permessage-deflate offer as parsed (RFC 7692 §7.1).
struct DeflateOffer {
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  uint8_t server_max_window_bits = 0;    // 0: absent; else 8..15
  bool client_max_window_bits = false;   // present (with or without a value)
  uint8_t client_max_window_bits_value = 0;  // 0: no value; else 8..15
};

enum class OfferStatus : uint8_t { Ok, UnknownParameter, DuplicateParameter, BadValue };

// Parses the parameters of one offer: the text after "permessage-deflate" up to the next
// top-level comma, e.g. "; client_max_window_bits; server_max_window_bits=10". Values may be
// tokens or quoted strings (§7.1: 'client_max_window_bits="10"' is the same).
OfferStatus parse_deflate_offer(std::string_view params, DeflateOffer& out);

// What the server is willing to do.
struct DeflatePolicy {
  // Shared streams: the server compresses and inflates every message from an empty window, so
  // it answers server_no_context_takeover and client_no_context_takeover whatever was offered.
  bool no_context_takeover = true;
  // The largest window the server compresses with, and the window it asks the client for when
  // the offer lets it (client_max_window_bits present): 9..15.
  uint8_t window_bits = kMaxWindowBits;
};

// What was agreed: the parameters of the response, and how each side compresses.
struct DeflateAgreement {
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  uint8_t server_window_bits = kMaxWindowBits;  // the server compresses with at most this
  uint8_t client_window_bits = kMaxWindowBits;  // the client compresses with at most this
  bool state_server_window = false;             // the response carries server_max_window_bits
  bool state_client_window = false;             // the response carries client_max_window_bits
};

struct DeflateNegotiation {
  bool offered = false;   // at least one permessage-deflate offer was present
  bool accepted = false;  // one was acceptable: `agreement` holds it
  DeflateAgreement agreement;
};

// Walks every Sec-WebSocket-Extensions header of the request in order and accepts the first
// acceptable permessage-deflate offer (the client's preference order). An offer with an unknown
// or repeated parameter, or a bad value, is skipped: the server declines the extension, never
// the connection. Other extensions are ignored.
DeflateNegotiation negotiate_deflate(std::span<const HttpHeader> headers, const DeflatePolicy& policy);

// The client's side: a response's Sec-WebSocket-Extensions value that must be exactly one
// permessage-deflate element; its parameters (same grammar as an offer's) into `out`. False for
// anything else (another extension, several, an unknown or repeated parameter, a bad value).
bool parse_deflate_response(std::string_view value, DeflateOffer& out);

// Whether an echo may send a compressed message back as the client compressed it, without
// inflating and deflating it again. The client's inflater must read what its own deflater wrote:
// - no context takeover both ways: every message stands alone;
// - context takeover both ways: the client's deflater refers to the plaintext of its own
//   compressed messages, its inflater keeps the plaintext of ours; an echo (each message once,
//   in order, compressed as it came) keeps the two equal;
// - and in both, the client's deflate window fits the window it inflates with (the stated
//   server_max_window_bits, 15 when absent). zlib deflates with 9 bits when asked for 8.
// Mixed takeover (one direction resets, the other does not) never qualifies.
bool echo_can_pass_through(const DeflateAgreement& agreement);

// Writes the value of the response's Sec-WebSocket-Extensions header, stating exactly what was
// agreed ("permessage-deflate; server_no_context_takeover; ..."). Returns bytes written, 0 if
// it does not fit (160 bytes always do).
size_t write_deflate_response(std::span<char> dst, const DeflateAgreement& agreement);

}  // namespace wsring::core
