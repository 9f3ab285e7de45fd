#include "bench/load/payload.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "core/unmask.hpp"
#include "core/utf8.hpp"

using namespace wsring::load;

TEST(LoadPayload, StampRoundTripsAndUsesSevenBitBytes) {
  const Stamp cases[] = {{0, 0, 0},
                         {1, 2, 3},
                         {kStampConnectionLimit - 1, 0xFFFFFFFFu, kStampTimeLimit - 1},
                         {123456, 987654321, 86'400'000'000'000ull}};
  for (const Stamp& s : cases) {
    uint8_t bytes[kStampSize];
    encode_stamp(s, bytes);
    for (uint8_t b : bytes) EXPECT_LT(b, 0x80);
    Stamp back;
    ASSERT_TRUE(decode_stamp(bytes, back));
    EXPECT_EQ(back.connection, s.connection);
    EXPECT_EQ(back.sequence, s.sequence);
    EXPECT_EQ(back.time_ns, s.time_ns);
  }
}

TEST(LoadPayload, StampsOfDifferentMessagesDiffer) {
  uint8_t a[kStampSize], b[kStampSize], c[kStampSize];
  encode_stamp({5, 1, 1000}, a);
  encode_stamp({5, 2, 1000}, b);  // next message of the same connection
  encode_stamp({6, 1, 1000}, c);  // same sequence on another connection
  EXPECT_NE(std::string(a, a + kStampSize), std::string(b, b + kStampSize));
  EXPECT_NE(std::string(a, a + kStampSize), std::string(c, c + kStampSize));
}

TEST(LoadPayload, DecodeRejectsHighBit) {
  uint8_t bytes[kStampSize];
  encode_stamp({1, 1, 1}, bytes);
  bytes[11] |= 0x80;
  Stamp s;
  EXPECT_FALSE(decode_stamp(bytes, s));
}

TEST(LoadPayload, TextPayloadIsValidUtf8AndPrintable) {
  PayloadPattern pattern(70000, true);
  std::vector<uint8_t> payload(70000);
  write_payload(payload.data(), payload.size(), {77, 99, 123456789}, pattern);
  EXPECT_TRUE(wsring::core::is_valid_utf8(payload.data(), payload.size()));
  for (size_t i = kStampSize; i < payload.size(); ++i) ASSERT_TRUE(payload[i] >= 0x21 && payload[i] <= 0x7E) << i;
}

TEST(LoadPayload, BinaryPatternCoversEveryByteAndNeighboursDiffer) {
  PayloadPattern pattern(1 << 16, false);
  std::set<uint8_t> seen(pattern.bytes(), pattern.bytes() + pattern.size());
  EXPECT_EQ(seen.size(), 256u);
  for (size_t i = 1; i < pattern.size(); ++i) ASSERT_NE(pattern.bytes()[i], pattern.bytes()[i - 1]) << i;
  // Shifting by a whole 256-byte run must not line the pattern up with itself.
  EXPECT_NE(0, memcmp(pattern.bytes() + 256, pattern.bytes() + 512, 256));
}

TEST(LoadPayload, FindMismatchAcceptsTheExactPayloadInAnyChunking) {
  PayloadPattern pattern(5000, false);
  std::vector<uint8_t> payload(5000);
  const Stamp stamp{3, 4, 5};
  write_payload(payload.data(), payload.size(), stamp, pattern);
  uint8_t expected[kStampSize];
  encode_stamp(stamp, expected);
  for (size_t chunk : {1, 3, 7, 16, 17, 1000, 5000}) {
    for (size_t at = 0; at < payload.size(); at += chunk) {
      const size_t n = std::min(chunk, payload.size() - at);
      ASSERT_EQ(find_mismatch(payload.data() + at, n, at, expected, pattern), n) << chunk << " at " << at;
    }
  }
}

TEST(LoadPayload, FindMismatchPinpointsEveryCorruptedByte) {
  PayloadPattern pattern(300, true);
  std::vector<uint8_t> payload(300);
  const Stamp stamp{1, 2, 3};
  write_payload(payload.data(), payload.size(), stamp, pattern);
  uint8_t expected[kStampSize];
  encode_stamp(stamp, expected);
  for (size_t bad = 0; bad < payload.size(); ++bad) {
    std::vector<uint8_t> copy = payload;
    copy[bad] ^= 0x01;
    ASSERT_EQ(find_mismatch(copy.data(), copy.size(), 0, expected, pattern), bad);
    // The same corruption seen through a chunk that starts mid-payload.
    if (bad >= 10) {
      ASSERT_EQ(find_mismatch(copy.data() + 10, copy.size() - 10, 10, expected, pattern), bad - 10);
    }
  }
}

TEST(LoadPayload, FindMismatchCatchesAnotherMessagesStamp) {
  PayloadPattern pattern(64, false);
  std::vector<uint8_t> payload(64);
  write_payload(payload.data(), payload.size(), {1, 7, 1000}, pattern);
  uint8_t expected[kStampSize];
  encode_stamp({1, 8, 1000}, expected);  // we were waiting for message 8
  EXPECT_LT(find_mismatch(payload.data(), payload.size(), 0, expected, pattern), kStampSize);
}

TEST(LoadPayload, FindMismatchCatchesAShiftedPayload) {
  PayloadPattern pattern(1000, false);
  std::vector<uint8_t> payload(1000);
  write_payload(payload.data(), payload.size(), {1, 1, 1}, pattern);
  uint8_t expected[kStampSize];
  encode_stamp({1, 1, 1}, expected);
  payload.erase(payload.begin() + 500);  // one byte dropped
  EXPECT_EQ(find_mismatch(payload.data(), payload.size(), 0, expected, pattern), 500u);
}

TEST(LoadPayload, BytesPastThePatternNeverMatch) {
  PayloadPattern pattern(32, false);
  std::vector<uint8_t> payload(40, 0);
  uint8_t expected[kStampSize] = {};
  // Offset 32 onwards lies past every payload that was sent.
  EXPECT_EQ(find_mismatch(payload.data() + 32, 8, 32, expected, pattern), 0u);
}

TEST(LoadPayload, MaskedPayloadUnmasksToThePlainOne) {
  PayloadPattern pattern(70000, false);
  const Stamp stamp{42, 7, 99999};
  uint8_t stamp_bytes[kStampSize];
  encode_stamp(stamp, stamp_bytes);
  const uint8_t key[4] = {0x12, 0xA5, 0x00, 0xFF};
  // Both ways: the fused pass below 1 KiB, copy + core::apply_mask from 1 KiB on.
  for (size_t size : {16, 17, 23, 24, 31, 32, 125, 126, 1000, 1023, 1024, 1025, 65535, 70000}) {
    std::vector<uint8_t> plain(size), masked(size);
    write_payload(plain.data(), size, stamp, pattern);
    write_masked_payload(masked.data(), size, stamp_bytes, pattern, key);
    EXPECT_NE(plain, masked) << size;
    wsring::core::apply_mask_reference(masked.data(), size, key, 0);
    ASSERT_EQ(plain, masked) << size;
  }
}
