#include "server/deflate_session.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace wsring::server {
namespace {

TEST(SharedMemLevel, TheSmallestWhoseSymbolBufferHoldsTheMessage) {
  EXPECT_EQ(shared_mem_level(0), 1);
  EXPECT_EQ(shared_mem_level(127), 1);  // 2^7 - 1 symbols
  EXPECT_EQ(shared_mem_level(128), 2);
  EXPECT_EQ(shared_mem_level(511), 3);
  EXPECT_EQ(shared_mem_level(512), 4);
  EXPECT_EQ(shared_mem_level(8191), 7);
  EXPECT_EQ(shared_mem_level(8192), 8);
  EXPECT_EQ(shared_mem_level(1 << 20), 8);
  EXPECT_EQ(shared_mem_level(SIZE_MAX), 8);  // size not known: zlib's default
}

TEST(SharedWindowBits, TwiceTheLargestMessageOfTheMemLevelWithinTheAgreedWindow) {
  EXPECT_EQ(shared_window_bits(1, 15), 9);
  EXPECT_EQ(shared_window_bits(2, 15), 9);
  EXPECT_EQ(shared_window_bits(4, 15), 11);  // messages under 1 KiB: a 2 KiB window
  EXPECT_EQ(shared_window_bits(8, 15), 15);
  EXPECT_EQ(shared_window_bits(4, 10), 10);  // never past what the client agreed to
  EXPECT_EQ(shared_window_bits(8, 9), 9);
}

TEST(DeflateBits, PacksEveryFieldWithThePassThroughBit) {
  core::DeflateAgreement a;
  a.server_window_bits = 12;
  a.client_window_bits = 10;
  for (bool passthrough : {false, true}) {
    for (bool dedicated : {false, true}) {
      for (bool resets : {false, true}) {
        a.server_no_context_takeover = resets;
        const DeflateBits bits = DeflateBits::pack(a, dedicated, passthrough);
        EXPECT_TRUE(bits.agreed());
        EXPECT_EQ(bits.server_window_bits(), 12);
        EXPECT_EQ(bits.client_window_bits(), 10);
        EXPECT_EQ(bits.dedicated(), dedicated);
        EXPECT_EQ(bits.server_resets(), resets);
        EXPECT_EQ(bits.passthrough(), passthrough);
      }
    }
  }
  a.client_window_bits = 8;  // inflated with 9, zlib's least
  EXPECT_EQ(DeflateBits::pack(a, false, true).client_window_bits(), 9);
}

// JSON-like text with some variety, so that compression has literals and matches.
std::string sample_text(size_t size) {
  std::string text;
  for (unsigned i = 0; text.size() < size; ++i)
    text += "{\"id\":" + std::to_string(i * 7919 % 10007) + ",\"name\":\"user" + std::to_string(i % 13) +
            "\",\"tags\":[\"a" + std::to_string(i % 5) + "\"]},";
  text.resize(size);
  return text;
}

std::vector<uint8_t> deflate_message(DeflateStream& stream, const std::string& text) {
  stream.reset();
  std::vector<uint8_t> out(text.size() + 1024);
  stream.begin(reinterpret_cast<const uint8_t*>(text.data()), text.size(), true);
  size_t n = 0;
  EXPECT_EQ(stream.write(out.data(), out.size(), &n), StreamStatus::Done);
  out.resize(n);
  return out;
}

std::string inflate_message(const std::vector<uint8_t>& packed) {
  InflateStream stream;
  EXPECT_TRUE(stream.open(15));
  std::string text(1 << 16, '\0');
  stream.begin(packed.data(), packed.size());
  size_t n = 0;
  EXPECT_EQ(stream.read(reinterpret_cast<uint8_t*>(text.data()), text.size(), &n), StreamStatus::Done);
  text.resize(n);
  return text;
}

TEST(SharedDeflater, CompressesAsWellAsZlibsDefault) {
  for (size_t size : {64u, 127u, 128u, 250u, 300u, 511u, 512u, 1000u, 1023u, 4095u, 4096u, 8191u, 20000u}) {
    const std::string text = sample_text(size);
    DeflateStream small, full;
    const int mem_level = shared_mem_level(size);
    ASSERT_TRUE(small.open(6, shared_window_bits(mem_level, 15), mem_level));
    ASSERT_TRUE(full.open(6, 15, 8));
    const std::vector<uint8_t> packed = deflate_message(small, text);
    EXPECT_EQ(packed.size(), deflate_message(full, text).size()) << size;
    EXPECT_EQ(inflate_message(packed), text) << size;
    EXPECT_EQ(deflate_message(small, text), packed) << size;  // reset: the same bytes again
  }
}

}  // namespace
}  // namespace wsring::server
