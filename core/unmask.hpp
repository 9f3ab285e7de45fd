// RFC 6455 §5.3 payload masking (the same XOR masks and unmasks).
#pragma once

#include <cstddef>
#include <cstdint>

namespace wsring::core {

// XORs data with the 4-byte key; `offset` is how many payload bytes of this frame came before `data`
// (so a payload split across buffers continues the mask where it stopped). In place.
void apply_mask(uint8_t* data, size_t size, const uint8_t key[4], uint64_t offset);

// apply_mask that also tells whether every resulting byte is ASCII (< 0x80). For small buffers
// this costs nothing extra, which lets a text receiver skip UTF-8 validation of ASCII chunks.
bool apply_mask_ascii(uint8_t* data, size_t size, const uint8_t key[4], uint64_t offset);

// The byte-at-a-time definition from §5.3, for tests and as the reference.
void apply_mask_reference(uint8_t* data, size_t size, const uint8_t key[4], uint64_t offset);

enum class MaskImpl : uint8_t { Word, Sse2, Avx2 };

// Runs one specific implementation (for tests and benchmarks); returns false, touching nothing,
// when this CPU or build lacks it.
bool apply_mask_with(MaskImpl impl, uint8_t* data, size_t size, const uint8_t key[4], uint64_t offset);

// Name of the implementation apply_mask dispatches to for large buffers ("avx2", "sse2", "word").
const char* mask_implementation();

}  // namespace wsring::core
