#include "core/utf8.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace wsring::core {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes bytes(std::initializer_list<int> values) {
  Bytes out;
  for (int v : values) out.push_back(static_cast<uint8_t>(v));
  return out;
}

Bytes bytes(const std::string& s) { return Bytes(s.begin(), s.end()); }

// Straightforward encoder from the RFC 3629 table.
Bytes encode(uint32_t cp) {
  if (cp < 0x80) return bytes({static_cast<int>(cp)});
  if (cp < 0x800) return bytes({0xC0 | static_cast<int>(cp >> 6), 0x80 | static_cast<int>(cp & 0x3F)});
  if (cp < 0x10000) {
    return bytes({0xE0 | static_cast<int>(cp >> 12), 0x80 | static_cast<int>((cp >> 6) & 0x3F),
                  0x80 | static_cast<int>(cp & 0x3F)});
  }
  return bytes({0xF0 | static_cast<int>(cp >> 18), 0x80 | static_cast<int>((cp >> 12) & 0x3F),
                0x80 | static_cast<int>((cp >> 6) & 0x3F), 0x80 | static_cast<int>(cp & 0x3F)});
}

// Reference: decode code point by code point and check the decoded value. Returns the index of
// the first byte at which no valid continuation exists, or -1 if all bytes are a valid prefix;
// `complete` tells whether the input ends between code points.
struct Verdict {
  long fail_at;
  bool complete;
};

Verdict reference(const uint8_t* in, size_t size) {
  size_t i = 0;
  while (i < size) {
    const uint8_t lead = in[i];
    size_t need;
    uint32_t cp;
    uint32_t min;
    if (lead < 0x80) {
      ++i;
      continue;
    } else if ((lead & 0xE0) == 0xC0) {
      need = 1, cp = lead & 0x1F, min = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
      need = 2, cp = lead & 0x0F, min = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
      need = 3, cp = lead & 0x07, min = 0x10000;
    } else {
      return {static_cast<long>(i), false};
    }
    // A lead byte alone can already be hopeless (C0, C1, F5..F7).
    if (lead == 0xC0 || lead == 0xC1 || lead > 0xF4) return {static_cast<long>(i), false};
    for (size_t k = 1; k <= need; ++k) {
      if (i + k == size) return {-1, false};
      const uint8_t c = in[i + k];
      if ((c & 0xC0) != 0x80) return {static_cast<long>(i + k), false};
      cp = (cp << 6) | (c & 0x3F);
      // Check as soon as the decoded prefix decides the range: after the first continuation
      // byte for 3- and 4-byte forms.
      if (k == 1 && need >= 2) {
        const uint32_t low = cp << (6 * (need - 1));
        const uint32_t high = low | ((1u << (6 * (need - 1))) - 1);
        const bool overlong = high < min;
        const bool surrogate = need == 2 && low >= 0xD800 && high <= 0xDFFF;
        const bool too_big = low > 0x10FFFF;
        if (overlong || surrogate || too_big) return {static_cast<long>(i + k), false};
      }
    }
    i += need + 1;
  }
  return {-1, true};
}

Verdict reference(const Bytes& in) { return reference(in.data(), in.size()); }

// Runs the validator over pieces; returns fail offset (or -1) and at_boundary.
Verdict run(const Bytes& in, const std::vector<size_t>& cuts) {
  Utf8Validator validator;
  size_t start = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(in.size());
  for (size_t end : ends) {
    if (!validator.feed(in.data() + start, end - start)) {
      EXPECT_TRUE(validator.failed());
      EXPECT_FALSE(validator.at_boundary());
      return {static_cast<long>(validator.failure_offset()), false};
    }
    start = end;
  }
  return {-1, validator.at_boundary()};
}

void expect_verdict(const Bytes& in, long fail_at, bool complete) {
  const Verdict whole = run(in, {});
  EXPECT_EQ(whole.fail_at, fail_at);
  EXPECT_EQ(whole.complete, complete);
  EXPECT_EQ(is_valid_utf8(in.data(), in.size()), fail_at < 0 && complete);
  for (size_t split = 0; split <= in.size(); ++split) {
    const Verdict two = run(in, {split});
    EXPECT_EQ(two.fail_at, fail_at) << "split at " << split;
    EXPECT_EQ(two.complete, complete) << "split at " << split;
  }
  std::vector<size_t> every;
  for (size_t i = 1; i < in.size(); ++i) every.push_back(i);
  const Verdict single = run(in, every);
  EXPECT_EQ(single.fail_at, fail_at) << "byte by byte";
  EXPECT_EQ(single.complete, complete) << "byte by byte";
}

TEST(Utf8, BoundaryCodePointsAreValid) {
  const uint32_t points[] = {0x0, 0x7F, 0x80, 0x7FF, 0x800, 0xFFFF, 0x10000, 0x10FFFF, 0xD7FF, 0xE000,
                             0xFFFD, 0xFEFF};
  for (uint32_t cp : points) {
    SCOPED_TRACE(cp);
    const Bytes encoded = encode(cp);
    expect_verdict(encoded, -1, true);
    // And with ASCII around it, and every proper prefix is an unfinished code point.
    Bytes framed = bytes("ab");
    framed.insert(framed.end(), encoded.begin(), encoded.end());
    framed.push_back('z');
    expect_verdict(framed, -1, true);
    for (size_t n = 1; n < encoded.size(); ++n) {
      expect_verdict(Bytes(encoded.begin(), encoded.begin() + static_cast<long>(n)), -1, false);
    }
  }
}

TEST(Utf8, EncodedLengthsAtBoundaries) {
  EXPECT_EQ(encode(0x7F).size(), 1u);
  EXPECT_EQ(encode(0x80).size(), 2u);
  EXPECT_EQ(encode(0x7FF).size(), 2u);
  EXPECT_EQ(encode(0x800).size(), 3u);
  EXPECT_EQ(encode(0xFFFF).size(), 3u);
  EXPECT_EQ(encode(0x10000).size(), 4u);
  EXPECT_EQ(encode(0x10FFFF), bytes({0xF4, 0x8F, 0xBF, 0xBF}));
}

// Each invalid class, with the byte at which failure becomes certain.
TEST(Utf8, InvalidClassesFailFast) {
  struct Case {
    const char* name;
    Bytes input;
    long fail_at;  // -1: valid prefix but unfinished
  };
  const std::vector<Case> cases = {
      {"stray continuation 80", bytes({0x80}), 0},
      {"stray continuation BF after ASCII", bytes({'a', 0xBF}), 1},
      {"continuation after complete 2-byte", bytes({0xC2, 0x80, 0x80}), 2},
      {"C0 overlong lead", bytes({0xC0, 0x80}), 0},
      {"C1 overlong lead", bytes({0xC1, 0xBF}), 0},
      {"F5 lead", bytes({0xF5, 0x80, 0x80, 0x80}), 0},
      {"F8 lead", bytes({0xF8}), 0},
      {"FE", bytes({0xFE}), 0},
      {"FF", bytes({'x', 0xFF}), 1},
      {"E0 overlong", bytes({0xE0, 0x80, 0x80}), 1},
      {"E0 9F overlong", bytes({0xE0, 0x9F, 0xBF}), 1},
      {"F0 overlong", bytes({0xF0, 0x80, 0x80, 0x80}), 1},
      {"F0 8F overlong", bytes({0xF0, 0x8F, 0xBF, 0xBF}), 1},
      {"surrogate D800", bytes({0xED, 0xA0, 0x80}), 1},
      {"surrogate DFFF", bytes({0xED, 0xBF, 0xBF}), 1},
      {"above 10FFFF", bytes({0xF4, 0x90, 0x80, 0x80}), 1},
      {"missing continuation 2-byte", bytes({0xC2, 'A'}), 1},
      {"missing continuation 3-byte", bytes({0xE1, 0x80, 'A'}), 2},
      {"missing continuation 4-byte", bytes({0xF1, 0x80, 0x80, 0xC2}), 3},
      {"truncated 2-byte", bytes({0xC2}), -1},
      {"truncated 3-byte", bytes({0xE1, 0x80}), -1},
      {"truncated 4-byte", bytes({'a', 0xF0, 0x90, 0x80}), -1},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    expect_verdict(c.input, c.fail_at, false);
    const Verdict ref = reference(c.input);
    EXPECT_EQ(ref.fail_at, c.fail_at) << "reference disagrees with the table";
  }
}

TEST(Utf8, AutobahnCase6Style) {
  // "κόσμε"
  const Bytes kosme = bytes({0xCE, 0xBA, 0xE1, 0xBD, 0xB9, 0xCF, 0x83, 0xCE, 0xBC, 0xCE, 0xB5});
  expect_verdict(kosme, -1, true);
  Bytes edited = kosme;
  for (int b : {0xED, 0xA0, 0x80, 0x65, 0x64, 0x69, 0x74, 0x65, 0x64}) edited.push_back(static_cast<uint8_t>(b));
  expect_verdict(edited, 12, false);  // the 0xA0
  expect_verdict(bytes("Hello-\xC2\xB5@\xC3\x9F\xC3\xB6\xC3\xA4\xC3\xBC\xC3\xA0\xC3\xA1-UTF-8!!"), -1, true);
  expect_verdict(bytes({0xF4, 0x90, 0x80, 0x80}), 1, false);
}

TEST(Utf8, FailureIsStickyUntilReset) {
  Utf8Validator validator;
  const uint8_t bad[] = {'o', 'k', 0xC0};
  const uint8_t good[] = {'f', 'i', 'n', 'e'};
  EXPECT_FALSE(validator.feed(bad, sizeof bad));
  EXPECT_EQ(validator.failure_offset(), 2u);
  EXPECT_FALSE(validator.feed(good, sizeof good));
  EXPECT_FALSE(validator.at_boundary());
  validator.reset();
  EXPECT_TRUE(validator.at_boundary());
  EXPECT_TRUE(validator.feed(good, sizeof good));
  EXPECT_TRUE(validator.at_boundary());
  EXPECT_TRUE(validator.feed(good, 0));
}

TEST(Utf8, FailureOffsetCountsAcrossFeeds) {
  Utf8Validator validator;
  const Bytes first = bytes(std::string(100, 'a'));
  ASSERT_TRUE(validator.feed(first.data(), first.size()));
  const uint8_t second[] = {0xE2, 0x82, 0xAC, 'x', 0x80};
  EXPECT_FALSE(validator.feed(second, sizeof second));
  EXPECT_EQ(validator.failure_offset(), 104u);
}

// One bad byte at every position of an ASCII (or mixed) buffer, so that every fast path (64-, 16-,
// 8-byte and tail loops) finds it exactly.
TEST(Utf8, ExactFailurePositionInLongBuffers) {
  for (const char* filler : {"a", "\xC3\xA9", "\xE2\x82\xAC"}) {
    Bytes base;
    while (base.size() < 300) base.insert(base.end(), filler, filler + std::char_traits<char>::length(filler));
    const size_t unit = std::char_traits<char>::length(filler);
    for (size_t at = 0; at + unit <= base.size(); at += unit) {
      Bytes in = base;
      in[at] = 0xFF;
      const Verdict v = run(in, {});
      ASSERT_EQ(v.fail_at, static_cast<long>(at)) << filler << " at " << at;
    }
    expect_verdict(Bytes(base.begin(), base.begin() + static_cast<long>(13 * unit)), -1, true);
  }
  // A multi-byte character at every position of a long ASCII run is fine.
  for (size_t at = 0; at < 200; ++at) {
    Bytes in = bytes(std::string(200, 'q'));
    const Bytes euro = encode(0x20AC);
    in.insert(in.begin() + static_cast<long>(at), euro.begin(), euro.end());
    ASSERT_TRUE(is_valid_utf8(in.data(), in.size())) << at;
  }
}

// Whole-buffer verdict of the validator under test.
Verdict validate(const uint8_t* in, size_t size) {
  Utf8Validator validator;
  if (!validator.feed(in, size)) return {static_cast<long>(validator.failure_offset()), false};
  return {-1, validator.at_boundary()};
}

bool same(const Verdict& a, const Verdict& b) { return a.fail_at == b.fail_at && a.complete == b.complete; }

// Differential against the reference decoder over every 1- and 2-byte input, every 3-byte input
// with a multi-byte lead of 3 or more bytes, and 4-byte inputs around the interesting leads.
TEST(Utf8, ExhaustiveShortInputsMatchReference) {
  uint8_t in[4];
  size_t mismatches = 0;
  for (int a = 0; a < 256; ++a) {
    in[0] = static_cast<uint8_t>(a);
    mismatches += !same(validate(in, 1), reference(in, 1));
    for (int b = 0; b < 256; ++b) {
      in[1] = static_cast<uint8_t>(b);
      if (!same(validate(in, 2), reference(in, 2))) {
        ADD_FAILURE() << a << " " << b;
        ++mismatches;
      }
      if (a < 0xE0) continue;
      for (int c = 0; c < 256; ++c) {
        in[2] = static_cast<uint8_t>(c);
        if (!same(validate(in, 3), reference(in, 3))) {
          ADD_FAILURE() << a << " " << b << " " << c;
          ++mismatches;
        }
      }
      ASSERT_EQ(mismatches, 0u);
    }
  }
  for (int a : {0xC2, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5}) {
    for (int b : {0x7F, 0x80, 0x8F, 0x90, 0xBF, 0xC0}) {
      for (int c : {0x7F, 0x80, 0xBF, 0xC0}) {
        for (int d = 0; d < 256; ++d) {
          const uint8_t four[4] = {static_cast<uint8_t>(a), static_cast<uint8_t>(b), static_cast<uint8_t>(c),
                                   static_cast<uint8_t>(d)};
          if (!same(validate(four, 4), reference(four, 4))) {
            ADD_FAILURE() << a << " " << b << " " << c << " " << d;
            ++mismatches;
          }
        }
      }
    }
  }
  EXPECT_EQ(mismatches, 0u);
}

// Long random texts (so the 64-byte multi-lane path runs) with random corruptions: fail position
// and completeness match the reference, whole and fed in random pieces.
TEST(Utf8, RandomMutationsMatchReference) {
  std::mt19937 rng(12345);
  const uint32_t pool[] = {'a', ' ', 0x7F, 0x80, 0xE9, 0x7FF, 0x800, 0x3BA, 0x4F60, 0xD7FF, 0xE000, 0xFFFD,
                           0xFFFF, 0x10000, 0x1F30D, 0x10FFFF};
  // Bytes that break things in interesting ways.
  const uint8_t poison[] = {0x80, 0xBF, 0xC0, 0xC1, 0xC2, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF, 0x41, 0xA0, 0x90};
  for (int round = 0; round < 4000; ++round) {
    Bytes in;
    const size_t target = 1 + rng() % 400;
    const bool ascii_heavy = round % 3 == 0;
    while (in.size() < target) {
      const uint32_t cp = ascii_heavy && rng() % 4 ? 'x' : pool[rng() % std::size(pool)];
      const Bytes encoded = encode(cp);
      in.insert(in.end(), encoded.begin(), encoded.end());
    }
    const int mutations = static_cast<int>(rng() % 3);
    for (int m = 0; m < mutations; ++m) in[rng() % in.size()] = poison[rng() % std::size(poison)];
    if (rng() % 5 == 0) in.resize(rng() % (in.size() + 1));  // maybe cut inside a code point

    const Verdict expected = reference(in.data(), in.size());
    const Verdict whole = validate(in.data(), in.size());
    ASSERT_TRUE(same(whole, expected)) << "round " << round << ": got " << whole.fail_at << " expected "
                                       << expected.fail_at;
    std::vector<size_t> cuts;
    for (size_t at = rng() % 70; at < in.size(); at += 1 + rng() % 90) cuts.push_back(at);
    const Verdict pieces = run(in, cuts);
    ASSERT_TRUE(same(pieces, expected)) << "round " << round << " in pieces";
  }
}

TEST(Utf8, EmptyInputIsValid) {
  EXPECT_TRUE(is_valid_utf8(nullptr, 0));
  Utf8Validator validator;
  EXPECT_TRUE(validator.feed(nullptr, 0));
  EXPECT_TRUE(validator.at_boundary());
}

}  // namespace
}  // namespace wsring::core
