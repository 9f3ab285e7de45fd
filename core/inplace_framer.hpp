// Re-frames received payloads in place, for an echo that copies nothing. A server frame header
// (2-10 bytes) is always 4 bytes shorter than the masked client header it answers (6-14), so each
// payload, once unmasked in place, can be given a server header and slid down to the end of the
// previous output: everything echoed from one input buffer forms one contiguous region, sent with
// one send straight from that buffer.
//
// Precondition of emit(): the `headroom()` bytes in front of `payload` are writable and are either
// the payload's own client header or output space the caller no longer needs. A chunk at the very
// start of an input buffer (a frame continued from the previous buffer) has no header of its own
// in front of it: the caller guarantees kMaxServerHeaderSize bytes of headroom there (the reactor's
// receive headroom; the server static_asserts it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/frame.hpp"

namespace wsring::core {

class InPlaceFramer {
 public:
  // Writes a server header for `payload` and moves the payload right behind the current region
  // (or right in front of the payload itself when no region is open). Returns the frame's start.
  // rsv: the header's RSV bits as in write_frame_header (4: RSV1, a compressed message).
  uint8_t* emit(Opcode opcode, bool fin, uint8_t* payload, size_t payload_size, uint8_t rsv = 0) {
    const size_t header = frame_header_size(payload_size, false);
    uint8_t* at = region_ ? end_ : payload - header;
    write_frame_header(at, opcode, fin, payload_size, nullptr, rsv);
    if (at + header != payload) std::memmove(at + header, payload, payload_size);
    if (!region_) region_ = at;
    end_ = at + header + payload_size;
    return at;
  }

  bool has_region() const { return region_ != nullptr && end_ > region_; }
  const uint8_t* region() const { return region_; }
  size_t region_size() const { return size_t(end_ - region_); }

  // Closes the current region (the caller queues it for sending); the next emit opens a new one.
  void cut() { region_ = end_ = nullptr; }

  // Bytes a chunk at the start of an input buffer needs in front of it.
  static constexpr size_t headroom() { return kMaxServerHeaderSize; }

 private:
  uint8_t* region_ = nullptr;
  uint8_t* end_ = nullptr;
};

}  // namespace wsring::core
