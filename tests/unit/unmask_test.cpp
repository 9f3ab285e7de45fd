#include "core/unmask.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

namespace wsring::core {
namespace {

std::vector<uint8_t> random_bytes(size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> out(size);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

const uint8_t kKey[4] = {0x37, 0xfa, 0x21, 0x3d};

TEST(Unmask, Rfc6455Hello) {
  uint8_t data[5] = {'H', 'e', 'l', 'l', 'o'};
  apply_mask(data, 5, kKey, 0);
  const uint8_t masked[5] = {0x7f, 0x9f, 0x4d, 0x51, 0x58};
  EXPECT_EQ(0, std::memcmp(data, masked, 5));
}

TEST(Unmask, ReferenceIsTheRfcDefinition) {
  uint8_t data[9] = {};
  apply_mask_reference(data, 9, kKey, 3);  // j = (offset + i) mod 4
  const uint8_t expected[9] = {0x3d, 0x37, 0xfa, 0x21, 0x3d, 0x37, 0xfa, 0x21, 0x3d};
  EXPECT_EQ(0, std::memcmp(data, expected, 9));
}

// Every length 0..300 x phase 0..3 x alignment 0..15, for the dispatched entry point and each
// implementation this CPU has; bytes around the range must stay untouched.
TEST(Unmask, MatchesReferenceForEveryLengthPhaseAlignment) {
  const std::vector<uint8_t> source = random_bytes(300 + 64, 1);
  const uint8_t guard = 0xA5;
  enum Which { Dispatch, Word, Sse2, Avx2 };
  for (int which : {Dispatch, Word, Sse2, Avx2}) {
    alignas(64) uint8_t actual[300 + 96];
    alignas(64) uint8_t expected[300 + 96];
    bool available = true;
    for (size_t length = 0; length <= 300 && available; ++length) {
      for (uint64_t phase = 0; phase < 4; ++phase) {
        for (size_t align = 0; align < 16; ++align) {
          std::memset(actual, guard, sizeof actual);
          std::memcpy(actual + 32 + align, source.data() + align, length);
          std::memcpy(expected, actual, sizeof actual);
          const uint64_t offset = phase + 4 * (align + length);  // only offset mod 4 may matter
          apply_mask_reference(expected + 32 + align, length, kKey, offset);
          uint8_t* target = actual + 32 + align;
          switch (which) {
            case Dispatch: apply_mask(target, length, kKey, offset); break;
            case Word: available = apply_mask_with(MaskImpl::Word, target, length, kKey, offset); break;
            case Sse2: available = apply_mask_with(MaskImpl::Sse2, target, length, kKey, offset); break;
            case Avx2: available = apply_mask_with(MaskImpl::Avx2, target, length, kKey, offset); break;
          }
          if (!available) break;
          ASSERT_EQ(0, std::memcmp(actual, expected, sizeof actual))
              << "impl " << which << " length " << length << " phase " << phase << " align " << align;
        }
      }
    }
  }
}

TEST(Unmask, ApplyingTwiceRestoresInput) {
  for (size_t length : {size_t{0}, size_t{1}, size_t{63}, size_t{64}, size_t{1000}, size_t{65536 + 7}}) {
    const std::vector<uint8_t> original = random_bytes(length, static_cast<uint32_t>(length));
    std::vector<uint8_t> data = original;
    apply_mask(data.data(), data.size(), kKey, 2);
    if (length >= 4) {
      EXPECT_NE(data, original);
    }
    apply_mask(data.data(), data.size(), kKey, 2);
    EXPECT_EQ(data, original) << length;
  }
}

TEST(Unmask, LargeBufferMatchesReference) {
  const std::vector<uint8_t> original = random_bytes(65536 + 13, 7);
  std::vector<uint8_t> actual = original, expected = original;
  apply_mask(actual.data() + 1, actual.size() - 1, kKey, 1);
  apply_mask_reference(expected.data() + 1, expected.size() - 1, kKey, 1);
  EXPECT_EQ(actual, expected);
}

// A payload split across several buffers continues the mask where the previous piece stopped.
TEST(Unmask, PiecesContinueThePhase) {
  const std::vector<uint8_t> original = random_bytes(1000, 3);
  std::vector<uint8_t> whole = original;
  apply_mask(whole.data(), whole.size(), kKey, 0);
  const size_t cuts[] = {0, 1, 2, 7, 70, 71, 333, 334, 335, 999, 1000};
  for (size_t a = 0; a < std::size(cuts); ++a) {
    for (size_t b = a; b < std::size(cuts); ++b) {
      std::vector<uint8_t> pieces = original;
      apply_mask(pieces.data(), cuts[a], kKey, 0);
      apply_mask(pieces.data() + cuts[a], cuts[b] - cuts[a], kKey, cuts[a]);
      apply_mask(pieces.data() + cuts[b], pieces.size() - cuts[b], kKey, cuts[b]);
      EXPECT_EQ(pieces, whole) << cuts[a] << "," << cuts[b];
    }
  }
}

TEST(Unmask, HugeOffsetsUseOnlyThePhase) {
  const std::vector<uint8_t> original = random_bytes(200, 9);
  for (uint64_t offset : {uint64_t{1} << 32, (uint64_t{1} << 32) + 3, ~uint64_t{0}}) {
    std::vector<uint8_t> actual = original, expected = original;
    apply_mask(actual.data(), actual.size(), kKey, offset);
    apply_mask_reference(expected.data(), expected.size(), kKey, offset & 3);
    EXPECT_EQ(actual, expected) << offset;
  }
}

// apply_mask_ascii masks exactly like apply_mask and reports whether the result is all ASCII,
// with the one non-ASCII byte anywhere (including the overlapping tail word).
TEST(Unmask, AsciiVariantMasksAndClassifies) {
  for (size_t length = 0; length <= 200; ++length) {
    for (uint64_t phase = 0; phase < 4; ++phase) {
      for (size_t high_at = 0; high_at <= length; ++high_at) {  // high_at == length: all ASCII
        std::vector<uint8_t> plain(length);
        for (size_t i = 0; i < length; ++i) plain[i] = static_cast<uint8_t>('A' + (i * 7 + phase) % 50);
        if (high_at < length) plain[high_at] = static_cast<uint8_t>(0x80 | high_at);
        std::vector<uint8_t> masked = plain;
        apply_mask_reference(masked.data(), length, kKey, phase);
        std::vector<uint8_t> buffer(length + 2, 0xEE);
        std::copy(masked.begin(), masked.end(), buffer.begin() + 1);
        const bool ascii = apply_mask_ascii(buffer.data() + 1, length, kKey, phase);
        ASSERT_EQ(ascii, high_at == length) << length << " " << phase << " " << high_at;
        ASSERT_TRUE(std::equal(plain.begin(), plain.end(), buffer.begin() + 1)) << length << " " << phase;
        ASSERT_EQ(buffer.front(), 0xEE);
        ASSERT_EQ(buffer.back(), 0xEE);
      }
    }
  }
}

TEST(Unmask, ReportsAnImplementation) {
  const std::string name = mask_implementation();
  EXPECT_TRUE(name == "avx2" || name == "sse2" || name == "word") << name;
}

}  // namespace
}  // namespace wsring::core
