#include "core/frame.hpp"

#include <cstring>

namespace wsring::core {

using frame_detail::decode_complete_header;
using frame_detail::header_size_from_prefix;

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

size_t FrameHeaderDecoder::feed(const uint8_t* data, size_t size) {
  if (done_) return 0;
  size_t used = 0;
  while (used < size) {
    const size_t missing = static_cast<size_t>(need_ - have_);
    const size_t take = missing < size - used ? missing : size - used;
    std::memcpy(bytes_ + have_, data + used, take);
    have_ = static_cast<uint8_t>(have_ + take);
    used += take;
    if (have_ < need_) break;  // input exhausted mid-header
    if (need_ == 2) {
      need_ = static_cast<uint8_t>(header_size_from_prefix(bytes_[1]));
      if (have_ < need_) continue;
    }
    decode_complete_header(bytes_, have_, header_);
    done_ = true;
    break;
  }
  return used;
}

}  // namespace wsring::core
