// Differential fuzzing of Utf8Validator against a reference that follows the RFC 3629 §4 syntax
// table literally: for each lead byte, the allowed range of each following byte. Compares the
// verdict, the failure position (fail-fast), and completeness, for the whole input and for the
// input fed in pieces.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "core/utf8.hpp"

namespace {

using wsring::core::Utf8Validator;

struct Range {
  uint8_t low, high;
};

constexpr Range kTail = {0x80, 0xBF};

// RFC 3629:
//   UTF8-1 = %x00-7F
//   UTF8-2 = %xC2-DF UTF8-tail
//   UTF8-3 = %xE0 %xA0-BF UTF8-tail / %xE1-EC 2( UTF8-tail ) /
//            %xED %x80-9F UTF8-tail / %xEE-EF 2( UTF8-tail )
//   UTF8-4 = %xF0 %x90-BF 2( UTF8-tail ) / %xF1-F3 3( UTF8-tail ) /
//            %xF4 %x80-8F 2( UTF8-tail )
// Returns how many bytes follow the lead and their ranges; false if the byte cannot lead.
bool sequence_for(uint8_t lead, int* follow, Range ranges[3]) {
  if (lead <= 0x7F) {
    *follow = 0;
  } else if (lead >= 0xC2 && lead <= 0xDF) {
    *follow = 1, ranges[0] = kTail;
  } else if (lead == 0xE0) {
    *follow = 2, ranges[0] = {0xA0, 0xBF}, ranges[1] = kTail;
  } else if ((lead >= 0xE1 && lead <= 0xEC) || lead == 0xEE || lead == 0xEF) {
    *follow = 2, ranges[0] = kTail, ranges[1] = kTail;
  } else if (lead == 0xED) {
    *follow = 2, ranges[0] = {0x80, 0x9F}, ranges[1] = kTail;
  } else if (lead == 0xF0) {
    *follow = 3, ranges[0] = {0x90, 0xBF}, ranges[1] = kTail, ranges[2] = kTail;
  } else if (lead >= 0xF1 && lead <= 0xF3) {
    *follow = 3, ranges[0] = kTail, ranges[1] = kTail, ranges[2] = kTail;
  } else if (lead == 0xF4) {
    *follow = 3, ranges[0] = {0x80, 0x8F}, ranges[1] = kTail, ranges[2] = kTail;
  } else {
    return false;
  }
  return true;
}

struct Verdict {
  long fail_at;   // index of the first byte that cannot continue valid UTF-8, or -1
  bool complete;  // ends between code points (meaningful when fail_at == -1)
  bool operator==(const Verdict&) const = default;
};

Verdict reference(const uint8_t* data, size_t size) {
  size_t i = 0;
  while (i < size) {
    int follow;
    Range ranges[3];
    if (!sequence_for(data[i], &follow, ranges)) return {static_cast<long>(i), false};
    for (int k = 0; k < follow; ++k) {
      const size_t at = i + 1 + static_cast<size_t>(k);
      if (at == size) return {-1, false};
      if (data[at] < ranges[k].low || data[at] > ranges[k].high) return {static_cast<long>(at), false};
    }
    i += 1 + static_cast<size_t>(follow);
  }
  return {-1, true};
}

Verdict under_test(const uint8_t* data, size_t size, const std::vector<size_t>& cuts) {
  Utf8Validator validator;
  size_t start = 0;
  for (size_t i = 0; i <= cuts.size(); ++i) {
    const size_t end = i < cuts.size() ? cuts[i] : size;
    if (!validator.feed(data + start, end - start)) {
      if (validator.at_boundary() || !validator.failed()) std::abort();
      if (validator.feed(data, size)) std::abort();  // failure is sticky
      return {static_cast<long>(validator.failure_offset()), false};
    }
    start = end;
  }
  return {-1, validator.at_boundary()};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Verdict expected = reference(data, size);
  const Verdict whole = under_test(data, size, {});
  if (!(whole == expected)) {
    std::fprintf(stderr, "whole: got fail_at=%ld complete=%d, expected fail_at=%ld complete=%d\n", whole.fail_at,
                 whole.complete, expected.fail_at, expected.complete);
    std::abort();
  }
  if (wsring::core::is_valid_utf8(data, size) != (expected.fail_at < 0 && expected.complete)) std::abort();

  // Pieces whose lengths come from the data itself (1..64 bytes), and byte by byte.
  std::vector<size_t> cuts;
  for (size_t at = 0; size > 0;) {
    at += 1 + data[at] % 64;
    if (at >= size) break;
    cuts.push_back(at);
  }
  if (!(under_test(data, size, cuts) == expected)) std::abort();
  if (size <= 4096) {
    cuts.clear();
    for (size_t at = 1; at < size; ++at) cuts.push_back(at);
    if (!(under_test(data, size, cuts) == expected)) std::abort();
  }
  return 0;
}
