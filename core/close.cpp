#include "core/close.hpp"

#include <cstring>

#include "core/unmask.hpp"
#include "core/utf8.hpp"

namespace wsring::core {

bool is_valid_close_code(uint16_t code) {
  // 1004-1006 and 1015 are reserved and must never be sent; 1016-2999 are unassigned;
  // 3000-3999 are registered by IANA and 4000-4999 are private use.
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

CloseParseResult parse_close_payload(const uint8_t* payload, size_t size) {
  if (size == 0) return {true, CloseInfo{close_code::no_status, {}}, 0};
  if (size == 1) return {false, CloseInfo{}, close_code::protocol_error};
  const uint16_t code = static_cast<uint16_t>((payload[0] << 8) | payload[1]);
  if (!is_valid_close_code(code)) return {false, CloseInfo{}, close_code::protocol_error};
  if (!is_valid_utf8(payload + 2, size - 2)) return {false, CloseInfo{}, close_code::invalid_payload};
  const std::string_view reason(reinterpret_cast<const char*>(payload + 2), size - 2);
  return {true, CloseInfo{code, reason}, 0};
}

size_t write_close_frame(uint8_t* dst, uint16_t code, std::string_view reason, const uint8_t* mask) {
  if (code == close_code::no_status) return write_frame_header(dst, Opcode::Close, true, 0, mask);
  size_t reason_size = reason.size();
  if (reason_size > kMaxControlPayload - 2) {
    reason_size = kMaxControlPayload - 2;
    // Don't split a code point (that would leave invalid UTF-8): a code point has at most three
    // continuation bytes, so back off at most three.
    const auto* bytes = reinterpret_cast<const uint8_t*>(reason.data());
    const size_t limit = reason_size - 3;
    while (reason_size > limit && (bytes[reason_size] & 0xC0) == 0x80) --reason_size;
  }
  const size_t payload_size = 2 + reason_size;
  const size_t header_size = write_frame_header(dst, Opcode::Close, true, payload_size, mask);
  uint8_t* payload = dst + header_size;
  payload[0] = static_cast<uint8_t>(code >> 8);
  payload[1] = static_cast<uint8_t>(code);
  if (reason_size != 0) std::memcpy(payload + 2, reason.data(), reason_size);
  if (mask) apply_mask(payload, payload_size, mask, 0);
  return header_size + payload_size;
}

}  // namespace wsring::core
