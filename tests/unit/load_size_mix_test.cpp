#include "bench/load/size_mix.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>

using namespace wsring::load;

namespace {

SizeMix parse_ok(const char* text) {
  SizeMix mix;
  std::string error;
  EXPECT_TRUE(mix.parse(text, 16, 256u << 20, error)) << text << ": " << error;
  return mix;
}

std::string parse_error(const char* text) {
  SizeMix mix;
  std::string error;
  EXPECT_FALSE(mix.parse(text, 16, 256u << 20, error)) << text;
  EXPECT_EQ(error.find('\n'), std::string::npos);
  EXPECT_EQ(mix.min(), 32u) << "a failed parse leaves the mix as it was";
  return error;
}

}  // namespace

TEST(SizeMix, DefaultIsFixed32) {
  SizeMix mix;
  EXPECT_TRUE(mix.fixed());
  EXPECT_EQ(mix.pick(123, 456), 32u);
  EXPECT_EQ(mix.text(), "32 B");
}

TEST(SizeMix, FixedAndRange) {
  SizeMix fixed = parse_ok("1K");
  EXPECT_TRUE(fixed.fixed());
  EXPECT_EQ(fixed.min(), 1024u);
  SizeMix range = parse_ok("64-1024");
  EXPECT_FALSE(range.fixed());
  EXPECT_EQ(range.min(), 64u);
  EXPECT_EQ(range.max(), 1024u);
  EXPECT_EQ(range.pick(0, 0), 64u);
  EXPECT_EQ(range.pick(0, 960), 1024u);  // inclusive: 961 values
  EXPECT_EQ(range.pick(0, 961), 64u);
  EXPECT_EQ(range.text(), "64-1024 B");
}

TEST(SizeMix, WeightedListPicksByWeight) {
  SizeMix mix = parse_ok("64:80,1024:15,64K:5");
  ASSERT_EQ(mix.items().size(), 3u);
  EXPECT_EQ(mix.min(), 64u);
  EXPECT_EQ(mix.max(), 65536u);
  // The first random number picks the item: [0,80) -> 64, [80,95) -> 1024, [95,100) -> 64K.
  EXPECT_EQ(mix.pick(0, 7), 64u);
  EXPECT_EQ(mix.pick(79, 7), 64u);
  EXPECT_EQ(mix.pick(80, 7), 1024u);
  EXPECT_EQ(mix.pick(94, 7), 1024u);
  EXPECT_EQ(mix.pick(95, 7), 65536u);
  EXPECT_EQ(mix.pick(99, 7), 65536u);
  EXPECT_EQ(mix.pick(100, 7), 64u);  // modulo the total weight
  EXPECT_EQ(mix.text(), "64 B:80, 1024 B:15, 65536 B:5");
}

TEST(SizeMix, WeightedDrawsMatchTheWeights) {
  SizeMix mix = parse_ok("16:3,32-47:1");
  uint64_t state = 42;
  std::map<uint64_t, int> seen;
  int small = 0;
  const int n = 40000;
  for (int i = 0; i < n; ++i) {
    const uint64_t size = mix.pick(next_random(state), next_random(state));
    ASSERT_TRUE(size == 16 || (size >= 32 && size <= 47)) << size;
    small += size == 16;
    ++seen[size];
  }
  EXPECT_NEAR(double(small) / n, 0.75, 0.02);
  EXPECT_EQ(seen.size(), 17u);  // 16, and every size of the range
}

TEST(SizeMix, RangeItemsInAList) {
  SizeMix mix = parse_ok("64-128:1,4K:1");
  EXPECT_EQ(mix.pick(0, 64), 128u);
  EXPECT_EQ(mix.pick(1, 64), 4096u);
}

TEST(SizeMix, BadInput) {
  EXPECT_NE(parse_error("").find("expected"), std::string::npos);
  EXPECT_NE(parse_error("8").find("sizes from 16"), std::string::npos);
  EXPECT_NE(parse_error("16-512M").find("sizes from 16"), std::string::npos);
  EXPECT_NE(parse_error("1024-64").find("below its minimum"), std::string::npos);
  EXPECT_NE(parse_error("64:80,1024").find("needs a weight"), std::string::npos);
  EXPECT_NE(parse_error("64:0").find("weight"), std::string::npos);
  EXPECT_NE(parse_error("64:x").find("weight"), std::string::npos);
  EXPECT_NE(parse_error("64:80,").find("needs a weight"), std::string::npos);
  EXPECT_NE(parse_error("abc").find("expected"), std::string::npos);
  std::string many;
  for (int i = 0; i < 65; ++i) many += (i ? "," : "") + std::to_string(16 + i) + ":1";
  EXPECT_NE(parse_error(many.c_str()).find("at most 64"), std::string::npos);
}

TEST(TextRatio, ParseAndDraw) {
  double ratio = -1;
  std::string error;
  EXPECT_TRUE(TextRatio::parse("0.25", ratio, error));
  EXPECT_EQ(ratio, 0.25);
  EXPECT_TRUE(TextRatio::parse("1", ratio, error));
  EXPECT_TRUE(TextRatio::parse("0", ratio, error));
  for (const char* bad : {"", "-0.1", "1.5", "x", " 0.5", "0.5x", "nan", "inf"}) {
    EXPECT_FALSE(TextRatio::parse(bad, ratio, error)) << bad;
    EXPECT_NE(error.find("0 to 1"), std::string::npos);
  }
  const TextRatio none = TextRatio::from(0), all = TextRatio::from(1), quarter = TextRatio::from(0.25);
  EXPECT_FALSE(none.draw(~uint64_t{0}));
  EXPECT_FALSE(none.draw(0));
  EXPECT_TRUE(all.draw(~uint64_t{0}));
  EXPECT_TRUE(all.draw(0));
  EXPECT_TRUE(quarter.draw(uint64_t(0x3FFFFFFF) << 32));
  EXPECT_FALSE(quarter.draw(uint64_t(0x40000000) << 32));
  uint64_t state = 7;
  int text = 0;
  for (int i = 0; i < 40000; ++i) text += quarter.draw(next_random(state));
  EXPECT_NEAR(text / 40000.0, 0.25, 0.02);
}
