#include "core/unmask.hpp"

#include <atomic>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define WSRING_X86 1
#endif

namespace wsring::core {

namespace {

constexpr uint64_t kHighBits = 0x8080808080808080ull;
constexpr bool kLittleEndian = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;

// The key word (its bytes in memory order) for a position `skip` bytes further on: memory byte
// j of the result is memory byte j + skip (mod 4) of the input.
template <typename Word>
inline Word advance_key(Word key, size_t skip) {
  constexpr unsigned kBits = sizeof(Word) * 8;
  const unsigned bits = static_cast<unsigned>(skip & 3) * 8;
  if (bits == 0) return key;
  if constexpr (kLittleEndian) return static_cast<Word>((key >> bits) | (key << (kBits - bits)));
  return static_cast<Word>((key << bits) | (key >> (kBits - bits)));
}

// The key as a word whose first memory byte is key[phase].
inline uint32_t key_word(const uint8_t key[4], unsigned phase) {
  uint32_t word;
  std::memcpy(&word, key, 4);
  return advance_key(word, phase);
}

// Portable path, any alignment (memcpy loads): 8 bytes at a time; a 1..7 byte tail is done as one
// word overlapping the previous one. That word is loaded before anything is stored (loading it
// after an overlapping store would stall store-to-load forwarding); its overlapping bytes get the
// same masked values twice. Returns the OR of every resulting byte (spread over a word) so callers
// can tell all-ASCII results for free.
inline uint64_t mask_words(uint8_t* p, size_t n, uint32_t key32) {
  if (n >= 8) {
    const uint64_t key64 = uint64_t{key32} | (uint64_t{key32} << 32);
    uint64_t last;
    std::memcpy(&last, p + n - 8, 8);
    uint64_t seen = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      uint64_t word;
      std::memcpy(&word, p + i, 8);
      word ^= key64;
      std::memcpy(p + i, &word, 8);
      seen |= word;
    }
    if (i != n) {
      last ^= advance_key(key64, n - 8);
      std::memcpy(p + n - 8, &last, 8);
      seen |= last;
    }
    return seen;
  }
  if (n >= 4) {
    uint32_t first, last;
    std::memcpy(&first, p, 4);
    std::memcpy(&last, p + n - 4, 4);
    first ^= key32;
    last ^= advance_key(key32, n - 4);
    std::memcpy(p, &first, 4);
    std::memcpy(p + n - 4, &last, 4);
    return first | last;
  }
  uint8_t key_bytes[4];
  std::memcpy(key_bytes, &key32, 4);
  uint64_t seen = 0;
  for (size_t i = 0; i < n; ++i) {
    p[i] ^= key_bytes[i];
    seen |= p[i];
  }
  return seen;
}

using MaskFn = void (*)(uint8_t*, size_t, uint32_t);

void mask_word_impl(uint8_t* p, size_t n, uint32_t key32) { (void)mask_words(p, n, key32); }

#ifdef WSRING_X86
// Aligns p to 16 bytes with a scalar head, then 64 bytes per iteration with aligned vectors.
void mask_sse2_impl(uint8_t* p, size_t n, uint32_t key32) {
  const size_t head = (16 - (reinterpret_cast<uintptr_t>(p) & 15)) & 15;
  if (head > n) {
    (void)mask_words(p, n, key32);
    return;
  }
  (void)mask_words(p, head, key32);
  p += head;
  n -= head;
  key32 = advance_key(key32, head);
  const __m128i key = _mm_set1_epi32(static_cast<int>(key32));
  while (n >= 64) {
    __m128i* v = reinterpret_cast<__m128i*>(p);
    _mm_store_si128(v + 0, _mm_xor_si128(_mm_load_si128(v + 0), key));
    _mm_store_si128(v + 1, _mm_xor_si128(_mm_load_si128(v + 1), key));
    _mm_store_si128(v + 2, _mm_xor_si128(_mm_load_si128(v + 2), key));
    _mm_store_si128(v + 3, _mm_xor_si128(_mm_load_si128(v + 3), key));
    p += 64;
    n -= 64;
  }
  while (n >= 16) {
    __m128i* v = reinterpret_cast<__m128i*>(p);
    _mm_store_si128(v, _mm_xor_si128(_mm_load_si128(v), key));
    p += 16;
    n -= 16;
  }
  (void)mask_words(p, n, key32);
}

__attribute__((target("avx2"))) void mask_avx2_impl(uint8_t* p, size_t n, uint32_t key32) {
  const size_t head = (32 - (reinterpret_cast<uintptr_t>(p) & 31)) & 31;
  if (head > n) {
    (void)mask_words(p, n, key32);
    return;
  }
  (void)mask_words(p, head, key32);
  p += head;
  n -= head;
  key32 = advance_key(key32, head);
  const __m256i key = _mm256_set1_epi32(static_cast<int>(key32));
  while (n >= 128) {
    __m256i* v = reinterpret_cast<__m256i*>(p);
    _mm256_store_si256(v + 0, _mm256_xor_si256(_mm256_load_si256(v + 0), key));
    _mm256_store_si256(v + 1, _mm256_xor_si256(_mm256_load_si256(v + 1), key));
    _mm256_store_si256(v + 2, _mm256_xor_si256(_mm256_load_si256(v + 2), key));
    _mm256_store_si256(v + 3, _mm256_xor_si256(_mm256_load_si256(v + 3), key));
    p += 128;
    n -= 128;
  }
  while (n >= 32) {
    __m256i* v = reinterpret_cast<__m256i*>(p);
    _mm256_store_si256(v, _mm256_xor_si256(_mm256_load_si256(v), key));
    p += 32;
    n -= 32;
  }
  (void)mask_words(p, n, key32);
}
#endif

MaskFn select_impl() {
#ifdef WSRING_X86
  __builtin_cpu_init();  // may run before other static constructors
  if (__builtin_cpu_supports("avx2")) return mask_avx2_impl;
  return mask_sse2_impl;  // SSE2 is baseline on x86-64
#else
  return mask_word_impl;
#endif
}

void resolve_and_mask(uint8_t* p, size_t n, uint32_t key32);

// Starts at the resolver (constant-initialised, so usable from any static constructor); the
// first large call replaces it with the best implementation for this CPU.
std::atomic<MaskFn> large_mask_impl{resolve_and_mask};

void resolve_and_mask(uint8_t* p, size_t n, uint32_t key32) {
  const MaskFn best = select_impl();
  large_mask_impl.store(best, std::memory_order_relaxed);
  best(p, n, key32);
}

// Below this the vector set-up (alignment head, indirect call) costs more than it saves.
constexpr size_t kVectorThreshold = 64;

}  // namespace

void apply_mask(uint8_t* data, size_t size, const uint8_t key[4], uint64_t offset) {
  const uint32_t key32 = key_word(key, static_cast<unsigned>(offset & 3));
  if (size < kVectorThreshold) {
    (void)mask_words(data, size, key32);
    return;
  }
  large_mask_impl.load(std::memory_order_relaxed)(data, size, key32);
}

bool apply_mask_ascii(uint8_t* data, size_t size, const uint8_t key[4], uint64_t offset) {
  const uint32_t key32 = key_word(key, static_cast<unsigned>(offset & 3));
  if (size < kVectorThreshold) return (mask_words(data, size, key32) & kHighBits) == 0;
  large_mask_impl.load(std::memory_order_relaxed)(data, size, key32);
  uint64_t seen = 0;
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t word;
    std::memcpy(&word, data + i, 8);
    seen |= word;
  }
  for (; i < size; ++i) seen |= data[i];
  return (seen & kHighBits) == 0;
}

void apply_mask_reference(uint8_t* data, size_t size, const uint8_t key[4], uint64_t offset) {
  for (size_t i = 0; i < size; ++i) data[i] ^= key[(offset + i) & 3];
}

bool apply_mask_with(MaskImpl impl, uint8_t* data, size_t size, const uint8_t key[4], uint64_t offset) {
  const uint32_t key32 = key_word(key, static_cast<unsigned>(offset & 3));
  switch (impl) {
    case MaskImpl::Word:
      mask_word_impl(data, size, key32);
      return true;
#ifdef WSRING_X86
    case MaskImpl::Sse2:
      mask_sse2_impl(data, size, key32);
      return true;
    case MaskImpl::Avx2:
      __builtin_cpu_init();
      if (!__builtin_cpu_supports("avx2")) return false;
      mask_avx2_impl(data, size, key32);
      return true;
#endif
    default:
      return false;
  }
}

const char* mask_implementation() {
  const MaskFn impl = select_impl();
#ifdef WSRING_X86
  if (impl == mask_avx2_impl) return "avx2";
  if (impl == mask_sse2_impl) return "sse2";
#endif
  (void)impl;
  return "word";
}

}  // namespace wsring::core
