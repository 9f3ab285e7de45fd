#include "core/utf8.hpp"

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace wsring::core {

namespace {

// A "shift DFA": every state is a multiple of 6, and kTransitions[byte] packs, for each state s,
// the next state at bit position s. One step is `state = kTransitions[byte] >> (state & 63)`,
// a single dependent shift per byte. REJECT is absorbing, so a block of bytes can be run without
// a per-byte branch and checked once at its end.
enum State : uint8_t {
  kAcceptState = 0,   // between code points
  kRejectState = 6,   // invalid; absorbing
  kNeed1 = 12,        // one continuation byte (80..BF) left
  kNeed2 = 18,        // two left
  kNeed3 = 24,        // three left
  kAfterE0 = 30,      // E0: next must be A0..BF (else overlong)
  kAfterED = 36,      // ED: next must be 80..9F (else surrogate)
  kAfterF0 = 42,      // F0: next must be 90..BF (else overlong)
  kAfterF4 = 48,      // F4: next must be 80..8F (else > U+10FFFF)
};
static_assert(kAcceptState == Utf8Validator::kAccept && kRejectState == Utf8Validator::kReject);

constexpr uint8_t kStates[] = {kAcceptState, kRejectState, kNeed1,   kNeed2,  kNeed3,
                               kAfterE0,     kAfterED,     kAfterF0, kAfterF4};

constexpr uint8_t step(uint8_t state, uint8_t byte) {
  const bool continuation = byte >= 0x80 && byte <= 0xBF;
  switch (state) {
    case kAcceptState:
      if (byte < 0x80) return kAcceptState;
      if (byte >= 0xC2 && byte <= 0xDF) return kNeed1;
      if (byte == 0xE0) return kAfterE0;
      if (byte == 0xED) return kAfterED;
      if (byte >= 0xE1 && byte <= 0xEF) return kNeed2;
      if (byte == 0xF0) return kAfterF0;
      if (byte >= 0xF1 && byte <= 0xF3) return kNeed3;
      if (byte == 0xF4) return kAfterF4;
      return kRejectState;  // 80..BF stray continuation, C0/C1 overlong, F5..FF out of range
    case kNeed1:
      return continuation ? kAcceptState : kRejectState;
    case kNeed2:
      return continuation ? kNeed1 : kRejectState;
    case kNeed3:
      return continuation ? kNeed2 : kRejectState;
    case kAfterE0:
      return byte >= 0xA0 && byte <= 0xBF ? kNeed1 : kRejectState;
    case kAfterED:
      return byte >= 0x80 && byte <= 0x9F ? kNeed1 : kRejectState;
    case kAfterF0:
      return byte >= 0x90 && byte <= 0xBF ? kNeed2 : kRejectState;
    case kAfterF4:
      return byte >= 0x80 && byte <= 0x8F ? kNeed2 : kRejectState;
    default:
      return kRejectState;
  }
}

struct TransitionTable {
  uint64_t row[256];
};

constexpr TransitionTable make_table() {
  TransitionTable table{};
  for (unsigned byte = 0; byte < 256; ++byte) {
    uint64_t row = 0;
    for (uint8_t state : kStates) row |= uint64_t{step(state, static_cast<uint8_t>(byte))} << state;
    table.row[byte] = row;
  }
  return table;
}

constexpr TransitionTable kTransitions = make_table();

inline uint64_t advance(uint64_t state, uint8_t byte) { return kTransitions.row[byte] >> (state & 63); }

// Index of the first byte >= 0x80 in [from, size), or size.
inline size_t skip_ascii(const uint8_t* data, size_t from, size_t size) {
  size_t i = from;
#if defined(__SSE2__)
  while (i + 64 <= size) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + i));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + i + 16));
    const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + i + 32));
    const __m128i d = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + i + 48));
    if (_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(a, b), _mm_or_si128(c, d))) != 0) break;
    i += 64;
  }
  while (i + 16 <= size) {
    const int high = _mm_movemask_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(data + i)));
    if (high != 0) return i + static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(high)));
    i += 16;
  }
#endif
  while (i + 8 <= size) {
    uint64_t word;
    std::memcpy(&word, data + i, 8);
    const uint64_t high = word & 0x8080808080808080ull;
    if (high != 0) {
      // Little-endian: the lowest set bit belongs to the first non-ASCII byte.
      if constexpr (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__) {
        return i + static_cast<size_t>(__builtin_ctzll(high)) / 8;
      }
      break;
    }
    i += 8;
  }
  while (i < size && data[i] < 0x80) ++i;
  return i;
}

constexpr size_t kBlock = 16;  // bytes run through the DFA between reject checks

// Index of the byte that makes the input invalid, running from `state` at data[from]. The caller
// knows such a byte exists.
inline size_t locate_reject(const uint8_t* data, size_t from, uint64_t state) {
  for (size_t at = from;; ++at) {
    state = advance(state, data[at]);
    if ((state & 63) == kRejectState) return at;
  }
}

inline bool is_continuation(uint8_t byte) { return (byte & 0xC0) == 0x80; }

// A code point boundary (a byte that is not a continuation byte) among at, at-1, at-2, at-3.
inline bool lane_start(const uint8_t* data, size_t at, size_t* start) {
  for (size_t back = 0; back < 4; ++back) {
    if (!is_continuation(data[at - back])) {
      *start = at - back;
      return true;
    }
  }
  return false;  // four continuation bytes in a row: invalid, found by the sequential path
}

// The DFA is one dependent shift per byte, so its speed is bounded by latency. Non-ASCII text is
// therefore validated 64 bytes at a time as four independent lanes: each lane after the first
// starts at a code point boundary in the ACCEPT state, which is the true state there iff the
// previous lane ends in ACCEPT (every other state needs a continuation byte next, and the
// boundary byte is not one, so otherwise the true run fails exactly at that boundary).
constexpr size_t kWideBlock = 64;
constexpr size_t kLaneBytes = 16;
constexpr size_t kMinLane = kLaneBytes - 3;

struct WideResult {
  uint64_t state;
  size_t reject_at;  // SIZE_MAX when the block is valid
};

inline WideResult validate_wide_block(const uint8_t* data, size_t i, uint64_t state) {
  constexpr size_t kNone = ~size_t{0};
  size_t b1, b2, b3;
  if (!lane_start(data, i + kLaneBytes, &b1) || !lane_start(data, i + 2 * kLaneBytes, &b2) ||
      !lane_start(data, i + 3 * kLaneBytes, &b3)) {
    for (size_t at = i; at < i + kWideBlock; ++at) {
      state = advance(state, data[at]);
      if ((state & 63) == kRejectState) return {state, at};
    }
    return {state, kNone};
  }
  uint64_t s0 = state, s1 = kAcceptState, s2 = kAcceptState, s3 = kAcceptState;
  for (size_t j = 0; j < kMinLane; ++j) {
    s0 = advance(s0, data[i + j]);
    s1 = advance(s1, data[b1 + j]);
    s2 = advance(s2, data[b2 + j]);
    s3 = advance(s3, data[b3 + j]);
  }
  for (size_t at = i + kMinLane; at < b1; ++at) s0 = advance(s0, data[at]);
  for (size_t at = b1 + kMinLane; at < b2; ++at) s1 = advance(s1, data[at]);
  for (size_t at = b2 + kMinLane; at < b3; ++at) s2 = advance(s2, data[at]);
  for (size_t at = b3 + kMinLane; at < i + kWideBlock; ++at) s3 = advance(s3, data[at]);
  if (((s0 | s1 | s2) & 63) == kAcceptState && (s3 & 63) != kRejectState) return {s3, kNone};
  // Something failed: report the first failure in stream order.
  const size_t starts[4] = {i, b1, b2, b3};
  const uint64_t ends[4] = {s0, s1, s2, s3};
  for (int lane = 0; lane < 4; ++lane) {
    const uint64_t end = ends[lane] & 63;
    if (end == kRejectState) {
      return {kRejectState, locate_reject(data, starts[lane], lane == 0 ? state : uint64_t{kAcceptState})};
    }
    if (lane < 3 && end != kAcceptState) return {kRejectState, starts[lane + 1]};
  }
  return {s3, kNone};  // not reached
}

}  // namespace

bool Utf8Validator::feed(const uint8_t* data, size_t size) {
  if (state_ == kReject) return false;
  uint64_t state = state_;
  size_t i = 0;
  while (i < size) {
    if ((state & 63) == kAcceptState) {
      i = skip_ascii(data, i, size);
      if (i == size) break;
    }
    if (size - i >= kWideBlock) {
      const WideResult result = validate_wide_block(data, i, state);
      if (result.reject_at != ~size_t{0}) {
        state_ = kReject;
        failure_offset_ = bytes_fed_ + result.reject_at;
        return false;
      }
      state = result.state;
      i += kWideBlock;
      continue;
    }
    const size_t block_start = i;
    const uint64_t block_start_state = state;
    const size_t block_end = size - i > kBlock ? i + kBlock : size;
    for (; i < block_end; ++i) state = advance(state, data[i]);
    if ((state & 63) == kRejectState) {
      state_ = kReject;
      failure_offset_ = bytes_fed_ + locate_reject(data, block_start, block_start_state);
      return false;
    }
  }
  state_ = static_cast<uint8_t>(state & 63);
  bytes_fed_ += size;
  return true;
}

bool is_valid_utf8(const uint8_t* data, size_t size) {
  Utf8Validator validator;
  return validator.feed(data, size) && validator.at_boundary();
}

}  // namespace wsring::core
