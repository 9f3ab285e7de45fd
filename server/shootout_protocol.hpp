// The websocket-shootout protocol (the benchmark that websocket-bench drives), sans-I/O.
// Text (JSON): {"type":"echo","payload":P} is answered to its sender with
// {"type":"echo","payload":P}; {"type":"broadcast","payload":P} sends
// {"type":"broadcast","payload":P} to every connected client (the sender too) and
// {"type":"broadcastResult","payload":P} to the sender. P is any JSON value, passed on byte for
// byte. Binary: the first byte selects: 'e' echo (the message goes back as it is), 'b'
// broadcast (the message goes to everyone as it is, and to the sender with 'r' in front of the
// same bytes instead of 'b').
#pragma once

#include <string_view>

namespace wsring::server {

enum class ShootoutKind { Echo, Broadcast };

struct ShootoutRequest {
  ShootoutKind kind = ShootoutKind::Echo;
  std::string_view payload;  // JSON: the payload value's text ("null" when absent); binary: the bytes after the type
};

// nullptr when `message` is a valid request (then `out` is set), else the reason (a short,
// static text for a close frame).
const char* parse_shootout_json(std::string_view message, ShootoutRequest& out);
const char* parse_shootout_binary(std::string_view message, ShootoutRequest& out);

// The JSON value starting at text[0] (after no whitespace): its length, or 0 when it is not one
// (strings, numbers, true/false/null, objects and arrays nested up to 64 deep).
size_t json_value_length(std::string_view text);

}  // namespace wsring::server
