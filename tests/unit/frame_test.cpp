#include "core/frame.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace wsring::core {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes header_bytes(Opcode opcode, bool fin, uint64_t length, const uint8_t* mask = nullptr, uint8_t rsv = 0) {
  Bytes out(kMaxFrameHeaderSize, 0xEE);
  out.resize(write_frame_header(out.data(), opcode, fin, length, mask, rsv));
  return out;
}

TEST(Frame, ControlOpcodes) {
  EXPECT_FALSE(is_control(Opcode::Continuation));
  EXPECT_FALSE(is_control(Opcode::Text));
  EXPECT_FALSE(is_control(Opcode::Binary));
  EXPECT_TRUE(is_control(Opcode::Close));
  EXPECT_TRUE(is_control(Opcode::Ping));
  EXPECT_TRUE(is_control(Opcode::Pong));
  for (uint8_t op = 0; op < 16; ++op) {
    const bool defined = op <= 2 || (op >= 8 && op <= 10);
    EXPECT_EQ(is_reserved_opcode(op), !defined) << int{op};
  }
}

TEST(Frame, HeaderSizeIsConstexpr) {
  static_assert(frame_header_size(0, false) == 2);
  static_assert(frame_header_size(125, true) == 6);
  static_assert(frame_header_size(126, false) == 4);
  static_assert(frame_header_size(65536, true) == kMaxFrameHeaderSize);
  static_assert(frame_header_size(~uint64_t{0} >> 1, false) == kMaxServerHeaderSize);
  SUCCEED();
}

// RFC 6455 §5.7 example headers, byte for byte.
struct WireExample {
  const char* name;
  Bytes wire;  // header bytes only
  Opcode opcode;
  bool fin;
  uint64_t length;
  bool masked;
};

const uint8_t kRfcMask[4] = {0x37, 0xfa, 0x21, 0x3d};

TEST(Frame, Rfc6455Examples) {
  const std::vector<WireExample> examples = {
      {"unmasked Hello", {0x81, 0x05}, Opcode::Text, true, 5, false},
      {"masked Hello", {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d}, Opcode::Text, true, 5, true},
      {"fragment Hel", {0x01, 0x03}, Opcode::Text, false, 3, false},
      {"fragment lo", {0x80, 0x02}, Opcode::Continuation, true, 2, false},
      {"unmasked ping", {0x89, 0x05}, Opcode::Ping, true, 5, false},
      {"masked pong", {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d}, Opcode::Pong, true, 5, true},
      {"256 bytes binary", {0x82, 0x7E, 0x01, 0x00}, Opcode::Binary, true, 256, false},
      {"64KiB binary", {0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0}, Opcode::Binary, true, 65536, false},
  };
  for (const auto& example : examples) {
    SCOPED_TRACE(example.name);
    EXPECT_EQ(header_bytes(example.opcode, example.fin, example.length,
                           example.masked ? kRfcMask : nullptr),
              example.wire);
    FrameHeader header;
    ASSERT_EQ(parse_frame_header(example.wire.data(), example.wire.size(), header), example.wire.size());
    EXPECT_EQ(header.opcode, example.opcode);
    EXPECT_EQ(header.fin, example.fin);
    EXPECT_EQ(header.payload_length, example.length);
    EXPECT_EQ(header.masked, example.masked);
    EXPECT_EQ(header.rsv, 0);
    if (example.masked) {
      EXPECT_EQ(0, std::memcmp(header.mask, kRfcMask, 4));
    }
  }
}

TEST(Frame, LengthBoundariesEncodeShortest) {
  struct Case {
    uint64_t length;
    Bytes wire;  // unmasked binary header, FIN set
  };
  const std::vector<Case> cases = {
      {0, {0x82, 0x00}},
      {125, {0x82, 0x7D}},
      {126, {0x82, 0x7E, 0x00, 0x7E}},
      {65535, {0x82, 0x7E, 0xFF, 0xFF}},
      {65536, {0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00}},
      {uint64_t{1} << 32, {0x82, 0x7F, 0, 0, 0, 0x01, 0, 0, 0, 0}},
      {0x7FFFFFFFFFFFFFFFull, {0x82, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.length);
    EXPECT_EQ(header_bytes(Opcode::Binary, true, c.length), c.wire);
    EXPECT_EQ(frame_header_size(c.length, false), c.wire.size());
    EXPECT_EQ(frame_header_size(c.length, true), c.wire.size() + 4);
  }
}

TEST(Frame, FlagsAndRsvRoundTrip) {
  const uint8_t mask[4] = {1, 2, 3, 4};
  for (uint8_t rsv = 0; rsv < 8; ++rsv) {
    for (bool fin : {false, true}) {
      const Bytes wire = header_bytes(Opcode::Text, fin, 7, mask, rsv);
      FrameHeader header;
      ASSERT_EQ(parse_frame_header(wire.data(), wire.size(), header), 6u);
      EXPECT_EQ(header.rsv, rsv);
      EXPECT_EQ(header.fin, fin);
    }
  }
  // RSV1 is the 0x40 bit of the first byte.
  EXPECT_EQ(header_bytes(Opcode::Text, true, 0, nullptr, 4)[0], 0xC1);
  EXPECT_EQ(header_bytes(Opcode::Text, false, 0, nullptr, 1)[0], 0x11);
}

TEST(Frame, ReservedOpcodesDecodeAsIs) {
  for (uint8_t op = 0; op < 16; ++op) {
    const uint8_t wire[2] = {static_cast<uint8_t>(0x80 | op), 0x00};
    FrameHeader header;
    ASSERT_EQ(parse_frame_header(wire, 2, header), 2u);
    EXPECT_EQ(static_cast<uint8_t>(header.opcode), op);
  }
}

TEST(Frame, IncompleteHeaderParsesNothing) {
  const uint8_t mask[4] = {9, 8, 7, 6};
  const Bytes wire = header_bytes(Opcode::Binary, true, 70000, mask);
  ASSERT_EQ(wire.size(), 14u);
  for (size_t size = 0; size < wire.size(); ++size) {
    FrameHeader header;
    EXPECT_EQ(parse_frame_header(wire.data(), size, header), 0u) << size;
  }
}

// Every length boundary x masked/unmasked: decoded whole (payload bytes after it untouched), and
// every shorter prefix is "need more" (MessageReader gathers a split header and decodes it whole).
TEST(FrameHeader, EveryLengthBoundaryWholeAndTruncated) {
  const uint64_t lengths[] = {0, 1, 125, 126, 127, 65535, 65536, uint64_t{1} << 32, 0x7FFFFFFFFFFFFFFFull};
  const uint8_t mask[4] = {0xA1, 0xB2, 0xC3, 0xD4};
  for (uint64_t length : lengths) {
    for (bool masked : {false, true}) {
      SCOPED_TRACE(testing::Message() << length << (masked ? " masked" : " unmasked"));
      Bytes wire = header_bytes(Opcode::Text, false, length, masked ? mask : nullptr, 2);
      const size_t header_size = wire.size();
      ASSERT_EQ(header_size, frame_header_size(length, masked));
      wire.insert(wire.end(), {0x55, 0x66, 0x77});  // start of the payload

      FrameHeader header;
      ASSERT_EQ(parse_frame_header(wire.data(), wire.size(), header), header_size);
      EXPECT_EQ(header.payload_length, length);
      EXPECT_EQ(header.header_size, header_size);
      EXPECT_EQ(header.masked, masked);
      EXPECT_EQ(header.rsv, 2);
      EXPECT_FALSE(header.fin);
      if (masked) {
        EXPECT_EQ(0, std::memcmp(header.mask, mask, 4));
      }
      for (size_t size = 0; size < header_size; ++size) {
        FrameHeader partial;
        EXPECT_EQ(parse_frame_header(wire.data(), size, partial), 0u) << size;
      }
    }
  }
}

}  // namespace
}  // namespace wsring::core
