#include "core/inplace_framer.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/frame.hpp"
#include "core/unmask.hpp"

namespace wsring::core {
namespace {

// A client frame of `payload` (masked) at `at`; returns its size.
size_t put_client_frame(uint8_t* at, Opcode op, const std::string& payload) {
  const uint8_t mask[4] = {1, 2, 3, 4};
  const size_t h = write_frame_header(at, op, true, payload.size(), mask);
  std::memcpy(at + h, payload.data(), payload.size());
  apply_mask(at + h, payload.size(), mask, 0);
  return h + payload.size();
}

// Decodes server frames from [data, data+size): (opcode, fin, payload) each.
std::vector<std::tuple<Opcode, bool, std::string>> server_frames(const uint8_t* data, size_t size) {
  std::vector<std::tuple<Opcode, bool, std::string>> out;
  size_t pos = 0;
  while (pos < size) {
    FrameHeader h;
    const size_t n = parse_frame_header(data + pos, size - pos, h);
    EXPECT_GT(n, 0u);
    EXPECT_FALSE(h.masked);
    if (n == 0) break;
    out.emplace_back(h.opcode, h.fin, std::string(reinterpret_cast<const char*>(data + pos + n), h.payload_length));
    pos += n + h.payload_length;
  }
  EXPECT_EQ(pos, size);
  return out;
}

TEST(InPlaceFramerTest, FramesOfABufferBecomeOneContiguousRegion) {
  std::vector<uint8_t> buf(16 + 70000);
  uint8_t* data = buf.data() + 16;
  const std::vector<std::string> payloads = {"", "a", std::string(125, 'b'), std::string(126, 'c'),
                                             std::string(65535, 'd'), std::string(3000, 'e')};
  size_t size = 0;
  std::vector<size_t> starts;
  for (const std::string& p : payloads) {
    starts.push_back(size);
    size += put_client_frame(data + size, Opcode::Binary, p);
    if (size > 69000) break;
  }
  InPlaceFramer framer;
  for (size_t i = 0; i < starts.size(); ++i) {
    FrameHeader h;
    const size_t n = parse_frame_header(data + starts[i], size - starts[i], h);
    uint8_t* payload = data + starts[i] + n;
    apply_mask(payload, h.payload_length, h.mask, 0);
    framer.emit(Opcode::Binary, true, payload, h.payload_length);
  }
  ASSERT_TRUE(framer.has_region() || payloads.size() == 0);
  EXPECT_EQ(framer.region(), data + 4) << "the first header is 4 bytes shorter than the client's";
  const auto frames = server_frames(framer.region(), framer.region_size());
  ASSERT_EQ(frames.size(), starts.size());
  for (size_t i = 0; i < starts.size(); ++i) EXPECT_TRUE(std::get<2>(frames[i]) == payloads[i]) << i;
  framer.cut();
  EXPECT_FALSE(framer.has_region());
}

TEST(InPlaceFramerTest, AChunkAtTheStartOfABufferUsesTheHeadroom) {
  std::vector<uint8_t> buf(InPlaceFramer::headroom() + 300);
  uint8_t* data = buf.data() + InPlaceFramer::headroom();
  std::memset(data, 'p', 300);  // the rest of a frame begun in the previous buffer
  InPlaceFramer framer;
  uint8_t* at = framer.emit(Opcode::Continuation, false, data, 300);
  EXPECT_GE(at, buf.data());
  EXPECT_EQ(at + 4, data) << "a 300-byte payload needs a 4-byte header";
  const auto frames = server_frames(framer.region(), framer.region_size());
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(std::get<0>(frames[0]), Opcode::Continuation);
  EXPECT_FALSE(std::get<1>(frames[0]));
  EXPECT_EQ(std::get<2>(frames[0]), std::string(300, 'p'));
}

TEST(InPlaceFramerTest, TheLargestServerHeaderFitsTheHeadroom) {
  static_assert(InPlaceFramer::headroom() >= frame_header_size(uint64_t(1) << 40, false));
  static_assert(InPlaceFramer::headroom() == kMaxServerHeaderSize);
}

TEST(InPlaceFramerTest, ACutStartsANewRegion) {
  std::vector<uint8_t> buf(16 + 64);
  uint8_t* data = buf.data() + 16;
  const size_t a = put_client_frame(data, Opcode::Text, "one");
  const size_t b = put_client_frame(data + a, Opcode::Text, "two");
  (void)b;
  FrameHeader h;
  size_t n = parse_frame_header(data, a, h);
  apply_mask(data + n, 3, h.mask, 0);
  InPlaceFramer framer;
  framer.emit(Opcode::Text, true, data + n, 3);
  const uint8_t* first = framer.region();
  const size_t first_size = framer.region_size();
  framer.cut();
  const size_t m = parse_frame_header(data + a, 64 - a, h);
  apply_mask(data + a + m, 3, h.mask, 0);
  framer.emit(Opcode::Text, true, data + a + m, 3);
  EXPECT_EQ(framer.region(), data + a + m - 2) << "a new region starts at its own frame";
  EXPECT_EQ(std::get<2>(server_frames(first, first_size)[0]), "one");
  EXPECT_EQ(std::get<2>(server_frames(framer.region(), framer.region_size())[0]), "two");
}

}  // namespace
}  // namespace wsring::core
