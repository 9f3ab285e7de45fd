#include "core/frame.hpp"

#include <cstring>

namespace wsring::core {

size_t write_frame_header(uint8_t* dst, Opcode opcode, bool fin, uint64_t payload_length,
                          const uint8_t* mask, uint8_t rsv) {
  dst[0] = static_cast<uint8_t>((fin ? 0x80 : 0) | ((rsv & 0x7) << 4) |
                                (static_cast<uint8_t>(opcode) & 0x0F));
  const uint8_t mask_bit = mask ? 0x80 : 0;
  size_t at;
  if (payload_length < 126) {
    dst[1] = static_cast<uint8_t>(mask_bit | payload_length);
    at = 2;
  } else if (payload_length <= 0xFFFF) {
    dst[1] = mask_bit | 126;
    dst[2] = static_cast<uint8_t>(payload_length >> 8);
    dst[3] = static_cast<uint8_t>(payload_length);
    at = 4;
  } else {
    dst[1] = mask_bit | 127;
    for (int i = 0; i < 8; ++i) dst[2 + i] = static_cast<uint8_t>(payload_length >> (56 - 8 * i));
    at = 10;
  }
  if (mask) {
    std::memcpy(dst + at, mask, 4);
    at += 4;
  }
  return at;
}

}  // namespace wsring::core
