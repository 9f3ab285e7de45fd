#include "bench/load/payload.hpp"

#include <algorithm>
#include <cstring>

#include "core/unmask.hpp"

namespace wsring::load {
namespace {

// From this size on, copying the payload and masking it in place with core::apply_mask (AVX2
// where the CPU has it) is faster than the fused copy-and-mask pass below; under it the fused
// pass is about twice as fast (figures in bench/README.md, "Cost per message").
constexpr size_t kCoreMaskFrom = 1024;

void put7(uint8_t* out, uint64_t value) {  // 56 bits, most significant group first
  for (int i = 7; i >= 0; --i) {
    out[i] = uint8_t(value & 0x7F);
    value >>= 7;
  }
}

bool get7(const uint8_t* in, uint64_t& value) {
  value = 0;
  for (int i = 0; i < 8; ++i) {
    if (in[i] & 0x80) return false;
    value = (value << 7) | in[i];
  }
  return true;
}

}  // namespace

void encode_stamp(const Stamp& stamp, uint8_t out[kStampSize]) {
  const uint64_t id = (uint64_t(stamp.connection & (kStampConnectionLimit - 1)) << 32) | stamp.sequence;
  put7(out, id);
  put7(out + 8, stamp.time_ns & (kStampTimeLimit - 1));
}

bool decode_stamp(const uint8_t in[kStampSize], Stamp& out) {
  uint64_t id = 0, time = 0;
  if (!get7(in, id) || !get7(in + 8, time)) return false;
  out.connection = uint32_t(id >> 32);
  out.sequence = uint32_t(id);
  out.time_ns = time;
  return true;
}

uint8_t PayloadPattern::byte_at(size_t offset, bool text) {
  // Consecutive bytes differ; the mix of higher bits makes runs 256 bytes apart differ too.
  const uint64_t mixed = offset + (offset >> 8) * 37 + (offset >> 16) * 101;
  return text ? uint8_t(0x21 + mixed % 94) : uint8_t(mixed);
}

PayloadPattern::PayloadPattern(size_t max_size, bool text)
    : bytes_(new uint8_t[std::max<size_t>(max_size, kStampSize)]), size_(std::max<size_t>(max_size, kStampSize)), text_(text) {
  for (size_t i = 0; i < size_; ++i) bytes_[i] = byte_at(i, text);
}

void write_payload(uint8_t* dst, size_t size, const Stamp& stamp, const PayloadPattern& pattern) {
  encode_stamp(stamp, dst);
  std::memcpy(dst + kStampSize, pattern.bytes() + kStampSize, size - kStampSize);
}

void write_masked_payload(uint8_t* dst, size_t size, const uint8_t stamp_bytes[kStampSize],
                          const PayloadPattern& pattern, const uint8_t key[4]) {
  if (size >= kCoreMaskFrom) {
    std::memcpy(dst, stamp_bytes, kStampSize);
    std::memcpy(dst + kStampSize, pattern.bytes() + kStampSize, size - kStampSize);
    core::apply_mask(dst, size, key, 0);
    return;
  }
  // Offsets 0, 8, 16, ... all start a key cycle, so one key word masks every aligned word.
  // 16-byte vectors (SSE2 on x86-64, NEON on arm64), four per step: about memcpy's speed.
  using Vec = uint64_t __attribute__((vector_size(16)));
  uint32_t key32;
  std::memcpy(&key32, key, 4);
  const uint64_t key64 = uint64_t{key32} | (uint64_t{key32} << 32);
  const Vec key_vec = {key64, key64};
  Vec v;
  std::memcpy(&v, stamp_bytes, kStampSize);
  v ^= key_vec;
  std::memcpy(dst, &v, kStampSize);
  const uint8_t* src = pattern.bytes();
  size_t i = kStampSize;
  for (; i + 64 <= size; i += 64) {
    Vec a, b, c, d;
    std::memcpy(&a, src + i, 16);
    std::memcpy(&b, src + i + 16, 16);
    std::memcpy(&c, src + i + 32, 16);
    std::memcpy(&d, src + i + 48, 16);
    a ^= key_vec;
    b ^= key_vec;
    c ^= key_vec;
    d ^= key_vec;
    std::memcpy(dst + i, &a, 16);
    std::memcpy(dst + i + 16, &b, 16);
    std::memcpy(dst + i + 32, &c, 16);
    std::memcpy(dst + i + 48, &d, 16);
  }
  for (; i + 8 <= size; i += 8) {
    uint64_t word;
    std::memcpy(&word, src + i, 8);
    word ^= key64;
    std::memcpy(dst + i, &word, 8);
  }
  for (; i < size; ++i) dst[i] = uint8_t(src[i] ^ key[i & 3]);
}

size_t find_mismatch(const uint8_t* chunk, size_t size, uint64_t offset, const uint8_t expected_stamp[kStampSize],
                     const PayloadPattern& pattern) {
  size_t i = 0;
  for (; i < size && offset + i < kStampSize; ++i)
    if (chunk[i] != expected_stamp[offset + i]) return i;
  if (i == size) return size;
  const uint64_t at = offset + i;
  if (at >= pattern.size()) return i;
  const size_t comparable = std::min<uint64_t>(size - i, pattern.size() - at);
  if (std::memcmp(chunk + i, pattern.bytes() + at, comparable) != 0) {
    for (size_t j = 0; j < comparable; ++j)
      if (chunk[i + j] != pattern.bytes()[at + j]) return i + j;
  }
  return i + comparable;  // == size unless the chunk runs past the pattern
}

}  // namespace wsring::load
