// RFC 6455 §5.2 frame headers: opcodes, close codes, header encoding and decoding. Decoding only:
// protocol rules are enforced by MessageReader (which also gathers a header split across inputs).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace wsring::core {

enum class Opcode : uint8_t { Continuation = 0, Text = 1, Binary = 2, Close = 8, Ping = 9, Pong = 10 };

constexpr bool is_control(Opcode op) { return (static_cast<uint8_t>(op) & 0x8) != 0; }

// Opcodes 3-7 and 11-15 are reserved for future use (RFC 6455 §5.2).
constexpr bool is_reserved_opcode(uint8_t op) { return (op >= 3 && op <= 7) || op >= 11; }

namespace close_code {  // RFC 6455 §7.4.1
constexpr uint16_t normal = 1000, going_away = 1001, protocol_error = 1002, unsupported_data = 1003,
                   no_status = 1005, abnormal = 1006, invalid_payload = 1007, policy_violation = 1008,
                   message_too_big = 1009, mandatory_extension = 1010, internal_error = 1011;
}  // namespace close_code

constexpr size_t kMaxFrameHeaderSize = 14;  // 2 + 8 + 4
constexpr size_t kMaxServerHeaderSize = 10;
constexpr size_t kMaxControlPayload = 125;

struct FrameHeader {
  bool fin = false;
  uint8_t rsv = 0;  // rsv bits as 0..7 (RSV1=4, RSV2=2, RSV3=1)
  Opcode opcode = Opcode::Continuation;  // may hold a reserved value (3-7, 11-15) as decoded
  bool masked = false;
  uint8_t mask[4] = {};
  uint64_t payload_length = 0;
  uint8_t header_size = 0;
};

// Bytes a header takes for this payload length, with or without a 4-byte mask key.
constexpr size_t frame_header_size(uint64_t payload_length, bool masked) {
  const size_t length_bytes = payload_length < 126 ? 0 : payload_length <= 0xFFFF ? 2 : 8;
  return 2 + length_bytes + (masked ? 4 : 0);
}

// Writes a frame header at dst (frame_header_size bytes). mask == nullptr -> unmasked (server frame).
// Always uses the shortest length encoding, as §5.2 requires.
size_t write_frame_header(uint8_t* dst, Opcode opcode, bool fin, uint64_t payload_length,
                          const uint8_t* mask = nullptr, uint8_t rsv = 0);

namespace frame_detail {

// Header size implied by the second header byte alone.
inline size_t header_size_from_prefix(uint8_t byte1) {
  const uint8_t length7 = byte1 & 0x7F;
  const size_t length_bytes = length7 == 126 ? 2 : length7 == 127 ? 8 : 0;
  return 2 + length_bytes + ((byte1 & 0x80) ? 4 : 0);
}

// Decodes a header whose bytes are all present (size == header_size_from_prefix(p[1])).
inline void decode_complete_header(const uint8_t* p, size_t size, FrameHeader& out) {
  out.fin = (p[0] & 0x80) != 0;
  out.rsv = static_cast<uint8_t>((p[0] >> 4) & 0x7);
  out.opcode = static_cast<Opcode>(p[0] & 0x0F);
  out.masked = (p[1] & 0x80) != 0;
  const uint8_t length7 = p[1] & 0x7F;
  size_t at = 2;
  if (length7 < 126) {
    out.payload_length = length7;
  } else if (length7 == 126) {
    out.payload_length = (uint64_t{p[2]} << 8) | p[3];
    at = 4;
  } else {
    uint64_t length = 0;
    for (int i = 0; i < 8; ++i) length = (length << 8) | p[2 + i];
    out.payload_length = length;
    at = 10;
  }
  if (out.masked) {
    std::memcpy(out.mask, p + at, 4);
  } else {
    std::memset(out.mask, 0, 4);
  }
  out.header_size = static_cast<uint8_t>(size);
}

}  // namespace frame_detail

// Decodes a whole header from the start of [data, data+size) without copying.
// Returns the header size, or 0 when the buffer holds only part of a header.
// Inline: it is the first step of every frame on the receive hot path.
inline size_t parse_frame_header(const uint8_t* data, size_t size, FrameHeader& out) {
  if (size < 2) return 0;
  const size_t header_size = frame_detail::header_size_from_prefix(data[1]);
  if (size < header_size) return 0;
  frame_detail::decode_complete_header(data, header_size, out);
  return header_size;
}

}  // namespace wsring::core
