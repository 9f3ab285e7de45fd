// RFC 6455 §5.5.1 / §7.4 close frames: code validation, payload parsing and frame writing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/frame.hpp"

namespace wsring::core {

bool is_valid_close_code(uint16_t code);  // on the wire: 1000-1003, 1007-1014, 3000-4999

struct CloseInfo {
  uint16_t code = close_code::no_status;
  std::string_view reason;
};

struct CloseParseResult {
  bool ok;
  CloseInfo info;
  uint16_t fail_code;  // 1002 or 1007 when !ok
};

// Parses a (unmasked) close payload: empty -> ok with 1005; 1 byte -> 1002; invalid code -> 1002;
// invalid UTF-8 reason -> 1007. reason views into the payload.
CloseParseResult parse_close_payload(const uint8_t* payload, size_t size);

// Writes a whole close frame (header + code + reason) into dst, which must have
// kMaxFrameHeaderSize + kMaxControlPayload bytes. The reason is cut to fit 125 payload bytes, at a
// code point boundary when it is valid UTF-8. code == 1005 (no_status) writes an empty payload.
// mask == nullptr -> server frame (unmasked); else masked with that key. Returns bytes written.
size_t write_close_frame(uint8_t* dst, uint16_t code, std::string_view reason,
                         const uint8_t* mask = nullptr);

}  // namespace wsring::core
