#include "core/frame.hpp"

#include <cstring>

namespace wsring::core {

namespace {

// Header size implied by the first two bytes alone.
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

}  // namespace

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

size_t parse_frame_header(const uint8_t* data, size_t size, FrameHeader& out) {
  if (size < 2) return 0;
  const size_t header_size = header_size_from_prefix(data[1]);
  if (size < header_size) return 0;
  decode_complete_header(data, header_size, out);
  return header_size;
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
