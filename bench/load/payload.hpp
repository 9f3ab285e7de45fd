// What wsring-load puts in a message, and how an echo is checked byte for byte.
//
// Layout of a payload of n >= 16 bytes:
//   bytes 0-7   the stamp's id: connection (24 bits) and sequence (32 bits), 7 bits per byte
//   bytes 8-15  the stamp's time: nanoseconds since the run began (56 bits), 7 bits per byte
//   bytes 16..  a pattern that depends only on the offset (printable ASCII for text messages)
// Every byte of the stamp is below 0x80, so a text payload is valid UTF-8 throughout. The
// pattern changes at every offset, so a dropped, doubled or shifted byte shows; the stamp
// catches a message echoed out of order, twice, or on the wrong connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace wsring::load {

constexpr size_t kStampSize = 16;
constexpr uint32_t kStampConnectionLimit = 1u << 24;
constexpr uint64_t kStampTimeLimit = uint64_t{1} << 56;

struct Stamp {
  uint32_t connection = 0;  // < 2^24
  uint32_t sequence = 0;
  uint64_t time_ns = 0;     // < 2^56 (kept modulo)
};

void encode_stamp(const Stamp& stamp, uint8_t out[kStampSize]);
// False if a byte has its high bit set (not a stamp we wrote).
bool decode_stamp(const uint8_t in[kStampSize], Stamp& out);

// The pattern bytes of every payload, computed once for the largest size.
class PayloadPattern {
 public:
  PayloadPattern(size_t max_size, bool text);
  static uint8_t byte_at(size_t offset, bool text);
  const uint8_t* bytes() const { return bytes_.get(); }
  size_t size() const { return size_; }
  bool text() const { return text_; }

 private:
  std::unique_ptr<uint8_t[]> bytes_;
  size_t size_;
  bool text_;
};

// Writes the unmasked payload of `size` bytes (kStampSize <= size <= pattern.size()).
void write_payload(uint8_t* dst, size_t size, const Stamp& stamp, const PayloadPattern& pattern);

// The same payload, already masked with `key` (RFC 6455 §5.3, from payload offset 0): small
// payloads in one fused pass, larger ones copied, then masked by core::apply_mask;
// `stamp_bytes` is the encoded stamp. This is what goes on the wire from a client.
void write_masked_payload(uint8_t* dst, size_t size, const uint8_t stamp_bytes[kStampSize],
                          const PayloadPattern& pattern, const uint8_t key[4]);

// Compares `size` received bytes lying at payload offset `offset` with what write_payload wrote
// for a payload whose encoded stamp is `expected_stamp`. Returns the index in the chunk of the
// first byte that differs, or `size` when all match. Offsets past pattern.size() never match.
size_t find_mismatch(const uint8_t* chunk, size_t size, uint64_t offset, const uint8_t expected_stamp[kStampSize],
                     const PayloadPattern& pattern);

}  // namespace wsring::load
