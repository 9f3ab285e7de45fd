#include "server/cli_values.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace wsring::cli {
namespace {

// Text that no parser of the grammar accepts: empty, whitespace, signs, junk, trailing garbage.
const char* const kJunk[] = {"", " ", " 1", "1 ", "\t1", "1\n", "+1", "-1", "-0", "x", "1x", "1 K", "0x10",
                             "1e3", "inf", "nan", "1,5", "1_000", "one"};

TEST(CliSize, PlainBytesAndEveryUnit) {
  const struct {
    const char* text;
    uint64_t value;
  } cases[] = {
      {"0", 0},          {"1048576", 1048576},   {"100B", 100},         {"007", 7},
      {"16K", 16384},    {"16k", 16384},         {"16KiB", 16384},      {"1M", 1u << 20},
      {"1m", 1u << 20},  {"1MiB", 1u << 20},     {"2G", 2ull << 30},    {"2g", 2ull << 30},
      {"2GiB", 2ull << 30}, {"3T", 3ull << 40},  {"3t", 3ull << 40},    {"3TiB", 3ull << 40},
      {"18446744073709551615", UINT64_MAX},      {"17179869183G", ((uint64_t{1} << 34) - 1) << 30},
  };
  for (const auto& c : cases) {
    uint64_t v = 12345;
    EXPECT_TRUE(parse_size(c.text, v)) << c.text;
    EXPECT_EQ(v, c.value) << c.text;
  }
}

TEST(CliSize, OverflowJunkAndAmbiguousUnitsFail) {
  for (const char* bad : {"18446744073709551616", "17179869184G", "18014398509481984K", "16777216T",
                          "99999999999999999999999", "K", "KiB", "1KB", "1kB", "1MB", "1kiB", "1KIB", "1Ki",
                          "1P", "1.5M", "1KK", "1BB", "1b", "1K/s"}) {
    uint64_t v = 12345;
    EXPECT_FALSE(parse_size(bad, v)) << bad;
    EXPECT_EQ(v, 12345u) << "untouched on failure: " << bad;
  }
  for (const char* bad : kJunk) {
    uint64_t v = 12345;
    EXPECT_FALSE(parse_size(bad, v)) << "'" << bad << "'";
    EXPECT_EQ(v, 12345u);
  }
}

TEST(CliDuration, EveryUnitAndBareSeconds) {
  const struct {
    const char* text;
    double seconds;
  } cases[] = {
      {"0", 0},       {"10", 10},     {"0.5", 0.5},    {"10s", 10},       {"1.25s", 1.25}, {"500ms", 0.5},
      {"1ms", 0.001}, {"0.5ms", 0.0005}, {"2m", 120},  {"1.5m", 90},      {"1h", 3600},    {"0.5h", 1800},
      {"007s", 7},
  };
  for (const auto& c : cases) {
    double s = -1;
    EXPECT_TRUE(parse_duration(c.text, s)) << c.text;
    EXPECT_DOUBLE_EQ(s, c.seconds) << c.text;
  }
}

TEST(CliDuration, JunkAndUnknownUnitsFail) {
  for (const char* bad : {"s", "ms", ".5", "5.", "1..2", "1.2.3", "1sec", "1S", "1M", "1H", "1d", "1us", "1min",
                          "1ms5", "10s ", "1e7", "-0.5", "5/s"}) {
    double s = 42;
    EXPECT_FALSE(parse_duration(bad, s)) << bad;
    EXPECT_DOUBLE_EQ(s, 42) << "untouched on failure: " << bad;
  }
  for (const char* bad : kJunk) {
    double s = 42;
    EXPECT_FALSE(parse_duration(bad, s)) << "'" << bad << "'";
  }
  // So many digits that the value is not finite.
  double s = 42;
  EXPECT_FALSE(parse_duration(std::string(400, '9'), s));
  EXPECT_FALSE(parse_duration(std::string(400, '9') + "h", s));
  EXPECT_DOUBLE_EQ(s, 42);
}

TEST(CliCount, PlainWholeNumbersOnly) {
  uint64_t v = 0;
  ASSERT_TRUE(parse_count("0", v));
  EXPECT_EQ(v, 0u);
  ASSERT_TRUE(parse_count("1000000", v));
  EXPECT_EQ(v, 1000000u);
  ASSERT_TRUE(parse_count("18446744073709551615", v));
  EXPECT_EQ(v, UINT64_MAX);
  for (const char* bad : {"18446744073709551616", "1K", "1k", "10k", "1M", "1.0", "1B", "1e6"}) {
    v = 7;
    EXPECT_FALSE(parse_count(bad, v)) << bad;
    EXPECT_EQ(v, 7u);
  }
  for (const char* bad : kJunk) EXPECT_FALSE(parse_count(bad, v)) << "'" << bad << "'";
}

TEST(CliRate, DecimalsWithOptionalPerSecond) {
  double r = -1;
  ASSERT_TRUE(parse_rate("2000", r));
  EXPECT_DOUBLE_EQ(r, 2000);
  ASSERT_TRUE(parse_rate("0.5", r));
  EXPECT_DOUBLE_EQ(r, 0.5);
  ASSERT_TRUE(parse_rate("100/s", r));
  EXPECT_DOUBLE_EQ(r, 100);
  ASSERT_TRUE(parse_rate("0", r));
  EXPECT_DOUBLE_EQ(r, 0);
  for (const char* bad : {"/s", "1/", "1/m", "1/s/s", "1K", "1 /s", "1e10", ".5"}) {
    r = 42;
    EXPECT_FALSE(parse_rate(bad, r)) << bad;
    EXPECT_DOUBLE_EQ(r, 42);
  }
  for (const char* bad : kJunk) EXPECT_FALSE(parse_rate(bad, r)) << "'" << bad << "'";
}

TEST(CliByteRate, SizeGrammarWithOptionalPerSecond) {
  uint64_t v = 0;
  ASSERT_TRUE(parse_byte_rate("1K", v));
  EXPECT_EQ(v, 1024u);
  ASSERT_TRUE(parse_byte_rate("4MiB/s", v));
  EXPECT_EQ(v, 4u << 20);
  ASSERT_TRUE(parse_byte_rate("512/s", v));
  EXPECT_EQ(v, 512u);
  ASSERT_TRUE(parse_byte_rate("0", v));
  EXPECT_EQ(v, 0u);
  for (const char* bad : {"/s", "1K/", "1K/m", "1.5K", "1KB/s", "99999999999999999999/s"}) {
    v = 7;
    EXPECT_FALSE(parse_byte_rate(bad, v)) << bad;
    EXPECT_EQ(v, 7u);
  }
  for (const char* bad : kJunk) EXPECT_FALSE(parse_byte_rate(bad, v)) << "'" << bad << "'";
}

TEST(CliFormat, BoundsReadAsTheyAreWritten) {
  EXPECT_EQ(format_size(0), "0");
  EXPECT_EQ(format_size(1), "1");
  EXPECT_EQ(format_size(1536), "1536");
  EXPECT_EQ(format_size(1024), "1K");
  EXPECT_EQ(format_size(16u << 20), "16M");
  EXPECT_EQ(format_size(3ull << 30), "3G");
  EXPECT_EQ(format_size(uint64_t{1} << 40), "1T");
  EXPECT_EQ(format_size(uint64_t{1} << 50), "1024T");
  EXPECT_EQ(format_duration(0.001), "1ms");
  EXPECT_EQ(format_duration(0.5), "500ms");
  EXPECT_EQ(format_duration(1), "1s");
  EXPECT_EQ(format_duration(90), "90s");
  EXPECT_EQ(format_duration(120), "2m");
  EXPECT_EQ(format_duration(3600 * 1000.0), "1000h");
  // What a bound prints parses back to the same value.
  for (uint64_t size : {uint64_t{256}, uint64_t{1} << 20, uint64_t{1} << 40}) {
    uint64_t back = 0;
    ASSERT_TRUE(parse_size(format_size(size), back));
    EXPECT_EQ(back, size);
  }
  for (double seconds : {0.001, 0.25, 1.0, 90.0, 7200.0}) {
    double back = 0;
    ASSERT_TRUE(parse_duration(format_duration(seconds), back)) << format_duration(seconds);
    EXPECT_DOUBLE_EQ(back, seconds);
  }
}

TEST(CliFlags, InRangeValuesAreStored) {
  std::string error;
  uint64_t n = 0;
  EXPECT_TRUE(parse_size_flag("--x", "16M", 1024, 16u << 20, n, error));
  EXPECT_EQ(n, 16u << 20);
  EXPECT_TRUE(parse_count_flag("--x", "256", 1, 256, n, error));
  EXPECT_EQ(n, 256u);
  EXPECT_TRUE(parse_byte_rate_flag("--x", "1K/s", 1, 1u << 30, n, error));
  EXPECT_EQ(n, 1024u);
  double d = 0;
  EXPECT_TRUE(parse_duration_flag("--x", "500ms", 0.001, 3600, d, error));
  EXPECT_DOUBLE_EQ(d, 0.5);
  EXPECT_TRUE(parse_rate_flag("--x", "0.5", 0.001, 1e9, d, error));
  EXPECT_DOUBLE_EQ(d, 0.5);
  EXPECT_TRUE(error.empty()) << error;
}

TEST(CliFlags, ZeroIsAcceptedOnlyWhenItMeansSomething) {
  std::string error;
  double d = 5;
  EXPECT_FALSE(parse_duration_flag("--idle", "0", 0.001, 3600, d, error));
  EXPECT_DOUBLE_EQ(d, 5);
  EXPECT_TRUE(parse_duration_flag("--idle", "0", 0.001, 3600, d, error, "never"));
  EXPECT_DOUBLE_EQ(d, 0);
  EXPECT_TRUE(parse_duration_flag("--idle", "0ms", 0.001, 3600, d, error, "never"));
  uint64_t n = 5;
  EXPECT_FALSE(parse_count_flag("--n", "0", 1, 10, n, error));
  EXPECT_TRUE(parse_count_flag("--n", "0", 1, 10, n, error, "no limit"));
  EXPECT_EQ(n, 0u);
  EXPECT_TRUE(parse_size_flag("--m", "0", 1u << 20, 1ull << 40, n, error, "auto"));
  EXPECT_TRUE(parse_byte_rate_flag("--r", "0", 1, 1u << 30, n, error, "off"));
  // Zero allowed does not widen the range elsewhere.
  EXPECT_FALSE(parse_duration_flag("--idle", "0.0001", 0.001, 3600, d, error, "never"));
}

// Every failure is one line naming the flag, the bounds, the accepted forms and the value given.
TEST(CliFlags, ErrorsAreOneLineNamingFlagBoundsFormsAndValue) {
  std::string error;
  uint64_t n = 0;
  double d = 0;
  EXPECT_FALSE(parse_size_flag("--recv-buffer-size", "17M", 1024, 16u << 20, n, error));
  EXPECT_EQ(error, "--recv-buffer-size: expected a size from 1K to 16M (bytes, or binary multiples such as 64K, "
                   "16MiB, 2G), got '17M'");
  EXPECT_FALSE(parse_duration_flag("--idle-timeout", "soon", 0.001, 3600000, d, error, "never"));
  EXPECT_EQ(error, "--idle-timeout: expected 0 (never) or a duration from 1ms to 1000h (such as 500ms, 10s, 2m, 1h; "
                   "a bare number is seconds), got 'soon'");
  EXPECT_FALSE(parse_count_flag("--threads", "1K", 1, 256, n, error));
  EXPECT_EQ(error, "--threads: expected a whole number from 1 to 256, got '1K'");
  EXPECT_FALSE(parse_rate_flag("--rate", "-3", 0.001, 1e9, d, error));
  EXPECT_EQ(error, "--rate: expected a rate from 0.001 to 1000000000 per second (such as 2000, 0.5 or 100/s), got '-3'");
  EXPECT_FALSE(parse_byte_rate_flag("--min-send-rate", "fast", 1, 1u << 30, n, error, "off"));
  EXPECT_EQ(error, "--min-send-rate: expected 0 (off) or bytes per second from 1 to 1G (bytes, or binary multiples "
                   "such as 64K, 16MiB, 2G; '/s' optional), got 'fast'");
  // Control bytes in the value are escaped: the message stays one line.
  EXPECT_FALSE(parse_count_flag("--n", "1\n2\t", 1, 2, n, error));
  EXPECT_EQ(error, "--n: expected a whole number from 1 to 2, got '1\\x0A2\\x09'");
  EXPECT_FALSE(parse_count_flag("--n", "", 1, 2, n, error));
  EXPECT_EQ(error.find('\n'), std::string::npos);
  EXPECT_NE(error.find("got ''"), std::string::npos);
}

}  // namespace
}  // namespace wsring::cli
