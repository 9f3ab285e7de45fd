#include "core/head_writer.hpp"

#include <gtest/gtest.h>

#include <string_view>

namespace wsring::core {
namespace {

TEST(HeadWriter, AppendsPiecesInOrder) {
  char buffer[64];
  HeadWriter out(buffer);
  out.raw("Content-Length: ");
  out.number(1234567);
  out.raw("\r\n");
  EXPECT_EQ(std::string_view(buffer, out.finish()), "Content-Length: 1234567\r\n");
}

TEST(HeadWriter, NeutralisesControlBytes) {
  char buffer[64];
  HeadWriter out(buffer);
  out.neutralised(std::string_view("a\r\nb\0c\x7f\td\xc3\xa9", 11));
  EXPECT_EQ(std::string_view(buffer, out.finish()), "a  b c  d\xc3\xa9");
}

TEST(HeadWriter, OverflowIsStickyAndReportsZero) {
  char buffer[8];
  HeadWriter out(buffer);
  out.raw("12345");
  out.raw("6789");  // does not fit
  out.raw("x");     // would fit alone, but the head is already broken
  EXPECT_EQ(out.reserve(0), nullptr);
  EXPECT_EQ(out.finish(), 0u);
  HeadWriter exact(buffer);
  exact.raw("12345678");
  EXPECT_EQ(exact.finish(), 8u);
}

}  // namespace
}  // namespace wsring::core
