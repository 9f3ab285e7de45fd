#include "bench/load/hdr_log.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>

using namespace wsring::load;

namespace {

// Made once with HdrHistogram's Java library 2.1.11 (tests/data/HdrKnownVector.java): a
// Histogram(1, 2^40-1, 3) holding the values below, encodeIntoByteBuffer and
// encodeIntoCompressedByteBuffer, in base64.
const char kJavaPlain[] =
    "HISTEwAAAB8AAAAAAAAAAwAAAAAAAAABAAAA//////8/8AAAAAAAAAICAgaJDICJersDAqsQAgYC+Q8CArFIAo9vArWIAgI=";
const char kJavaCompressed[] =
    "HISTFAAAAD54nJNpmSzMwMAgzwABzFCaEYj/g4D9B4gAExMTWydPQ2fVbmam1QJMbEw/+ZmYNnow9eczbe1gYgIA1ysPhQ==";

LatencyHistogram java_values() {
  LatencyHistogram h;
  for (uint64_t v : {0ull, 1ull, 2ull, 3ull, 3ull, 3ull, 1000ull, 2047ull, 2048ull, 2049ull, 2049ull, 2050ull, 4095ull,
                     4096ull, 100000ull, 12345678ull, 1099511627775ull})
    h.record(v);
  h.record_n(777, 1000000);
  return h;
}

void expect_same_buckets(const LatencyHistogram& a, const LatencyHistogram& b) {
  ASSERT_EQ(a.count(), b.count());
  for (size_t i = 0; i < LatencyHistogram::kBucketCount; ++i) ASSERT_EQ(a.bucket_count(i), b.bucket_count(i)) << i;
}

std::string unbase64(const char* text) {
  std::string bytes;
  EXPECT_TRUE(base64_decode(text, bytes));
  return bytes;
}

}  // namespace

TEST(LoadHdrLog, EncodesExactlyAsTheJavaLibrary) {
  EXPECT_EQ(base64_encode(encode_hdr_v2(java_values())), kJavaPlain);
}

TEST(LoadHdrLog, DecodesTheJavaLibrarysEncodings) {
  for (const char* vector : {kJavaPlain, kJavaCompressed}) {
    LatencyHistogram h;
    std::string error;
    ASSERT_TRUE(decode_hdr(unbase64(vector), h, &error)) << error;
    expect_same_buckets(h, java_values());
    EXPECT_EQ(h.percentile(50), 777u);
  }
}

TEST(LoadHdrLog, CompressedRoundTrip) {
  std::mt19937_64 rng(7);
  LatencyHistogram h;
  for (int i = 0; i < 100000; ++i) h.record(rng() % (i % 10 ? 5000 : 50'000'000));
  LatencyHistogram back;
  std::string error;
  ASSERT_TRUE(decode_hdr(encode_hdr_compressed(h), back, &error)) << error;
  expect_same_buckets(back, h);
  EXPECT_EQ(back.percentile(99), h.percentile(99));
}

TEST(LoadHdrLog, EmptyHistogramRoundTrips) {
  LatencyHistogram empty, back;
  ASSERT_TRUE(decode_hdr(encode_hdr_compressed(empty), back, nullptr));
  EXPECT_EQ(back.count(), 0u);
}

TEST(LoadHdrLog, CountsAloneRoundTripAndAddUp) {
  LatencyHistogram a, b;
  a.record_n(5, 3);
  a.record(70000);
  b.record(5);
  std::string encoded_a, encoded_b;
  append_hdr_counts(a, encoded_a);
  append_hdr_counts(b, encoded_b);
  LatencyHistogram sum;
  ASSERT_TRUE(add_hdr_counts(encoded_a, sum, nullptr));
  ASSERT_TRUE(add_hdr_counts(encoded_b, sum, nullptr));
  EXPECT_EQ(sum.count(), 5u);
  EXPECT_EQ(sum.bucket_count(LatencyHistogram::bucket_index(5)), 4u);
}

TEST(LoadHdrLog, RefusesMalformedInput) {
  LatencyHistogram h;
  std::string error;
  EXPECT_FALSE(decode_hdr("", h, &error));
  EXPECT_FALSE(decode_hdr(std::string(40, '\0'), h, &error));
  EXPECT_NE(error.find("cookie"), std::string::npos);
  std::string plain = unbase64(kJavaPlain);
  EXPECT_FALSE(decode_hdr(plain.substr(0, plain.size() - 3), h, &error));  // payload cut short
  std::string other_digits = plain;
  other_digits[15] = 2;
  EXPECT_FALSE(decode_hdr(other_digits, h, &error));
  EXPECT_NE(error.find("significant digits"), std::string::npos);
  std::string compressed = unbase64(kJavaCompressed);
  compressed[20] ^= 0x55;
  EXPECT_FALSE(decode_hdr(compressed, h, &error));
  std::string out;
  EXPECT_FALSE(base64_decode("QUJD*", out));
  EXPECT_FALSE(base64_decode("QQ==QQ==", out));
}

TEST(LoadHdrLog, LogLinesParseBack) {
  LatencyHistogram h;
  h.record(1500);
  h.record(2500);
  const std::string text = hdr_log_header(1700000000.25) + hdr_log_line("", 0, 1, h) + hdr_log_line("shard1", 1, 0.5, h);
  EXPECT_NE(text.find("#[StartTime: 1700000000.250 (seconds since epoch), "), std::string::npos);
  EXPECT_NE(text.find("\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\""),
            std::string::npos);
  EXPECT_NE(text.find("\n0.000,1.000,2.500,HISTF"), std::string::npos) << text;
  HdrLog log;
  std::string error;
  ASSERT_TRUE(parse_hdr_log(text, log, &error)) << error;
  EXPECT_DOUBLE_EQ(log.start_time_s, 1700000000.25);
  EXPECT_DOUBLE_EQ(log.base_time_s, 1700000000.25);
  ASSERT_EQ(log.intervals.size(), 2u);
  EXPECT_EQ(log.intervals[1].tag, "shard1");
  EXPECT_DOUBLE_EQ(log.intervals[1].start_s, 1.0);
  EXPECT_DOUBLE_EQ(log.intervals[1].length_s, 0.5);
  LatencyHistogram back;
  ASSERT_TRUE(decode_hdr(log.intervals[1].encoded, back, &error)) << error;
  expect_same_buckets(back, h);
  EXPECT_FALSE(parse_hdr_log("0.0,1.0,HISTF\n", log, &error));
  EXPECT_EQ(error.substr(0, 7), "line 1:");
  EXPECT_FALSE(parse_hdr_log("0.0,x,1.0,HISTF\n", log, &error));
}
