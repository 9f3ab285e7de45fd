#include "core/close.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/unmask.hpp"
#include "core/utf8.hpp"

namespace wsring::core {
namespace {

using Bytes = std::vector<uint8_t>;

// RFC 6455 §7.4.1/§7.4.2 and the IANA registry, stated code by code: which codes may appear in a
// Close frame on the wire.
bool rfc_allows_on_wire(unsigned code) {
  if (code <= 999) return false;                  // §7.4.2: not used
  if (code >= 5000) return false;                 // outside every defined range
  if (code >= 3000) return true;                  // 3000-3999 registered, 4000-4999 private
  if (code >= 1016) return false;                 // 1016-2999 reserved for future RFCs
  switch (code) {
    case 1004:  // reserved
    case 1005:  // no status: must not be sent
    case 1006:  // abnormal closure: must not be sent
    case 1015:  // TLS failure: must not be sent
      return false;
    default:
      return true;  // 1000-1003, 1007-1014 (1012-1014 registered with IANA)
  }
}

TEST(Close, EveryCodeClassified) {
  int valid = 0;
  for (unsigned code = 0; code <= 5000; ++code) {
    EXPECT_EQ(is_valid_close_code(static_cast<uint16_t>(code)), rfc_allows_on_wire(code)) << code;
    valid += is_valid_close_code(static_cast<uint16_t>(code));
  }
  EXPECT_EQ(valid, 4 + 8 + 2000);
  EXPECT_FALSE(is_valid_close_code(65535));
  EXPECT_TRUE(is_valid_close_code(close_code::normal));
  EXPECT_TRUE(is_valid_close_code(close_code::message_too_big));
  EXPECT_FALSE(is_valid_close_code(close_code::no_status));
  EXPECT_FALSE(is_valid_close_code(close_code::abnormal));
}

CloseParseResult parse(const Bytes& payload) { return parse_close_payload(payload.data(), payload.size()); }

TEST(Close, ParseTable) {
  struct Case {
    const char* name;
    Bytes payload;
    bool ok;
    uint16_t code_or_fail;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {"empty", {}, true, 1005, ""},
      {"one byte", {0x03}, false, 1002, ""},
      {"1000 no reason", {0x03, 0xE8}, true, 1000, ""},
      {"1000 with reason", {0x03, 0xE8, 'b', 'y', 'e'}, true, 1000, "bye"},
      {"1001", {0x03, 0xE9}, true, 1001, ""},
      {"3000", {0x0B, 0xB8}, true, 3000, ""},
      {"4999 with UTF-8 reason", {0x13, 0x87, 0xCE, 0xBA}, true, 4999, "\xCE\xBA"},
      {"0", {0x00, 0x00}, false, 1002, ""},
      {"999", {0x03, 0xE7}, false, 1002, ""},
      {"1004", {0x03, 0xEC}, false, 1002, ""},
      {"1005 on the wire", {0x03, 0xED}, false, 1002, ""},
      {"1006 on the wire", {0x03, 0xEE}, false, 1002, ""},
      {"1015", {0x03, 0xF7}, false, 1002, ""},
      {"2999", {0x0B, 0xB7}, false, 1002, ""},
      {"5000", {0x13, 0x88}, false, 1002, ""},
      {"65535", {0xFF, 0xFF}, false, 1002, ""},
      {"invalid code beats invalid reason", {0x03, 0xED, 0xFF}, false, 1002, ""},
      {"invalid UTF-8 reason", {0x03, 0xE8, 0xFF}, false, 1007, ""},
      {"surrogate in reason", {0x03, 0xE8, 'a', 0xED, 0xA0, 0x80}, false, 1007, ""},
      {"truncated code point in reason", {0x03, 0xE8, 'a', 0xE2, 0x82}, false, 1007, ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const CloseParseResult result = parse(c.payload);
    ASSERT_EQ(result.ok, c.ok);
    if (c.ok) {
      EXPECT_EQ(result.info.code, c.code_or_fail);
      EXPECT_EQ(result.info.reason, c.reason);
      if (!c.reason.empty()) {  // views into the payload, no copy
        EXPECT_EQ(static_cast<const void*>(result.info.reason.data()),
                  static_cast<const void*>(c.payload.data() + 2));
      }
    } else {
      EXPECT_EQ(result.fail_code, c.code_or_fail);
    }
  }
}

Bytes close_frame(uint16_t code, std::string_view reason, const uint8_t* mask = nullptr) {
  Bytes out(kMaxFrameHeaderSize + kMaxControlPayload, 0xEE);
  out.resize(write_close_frame(out.data(), code, reason, mask));
  return out;
}

TEST(Close, WriteServerFrames) {
  EXPECT_EQ(close_frame(1000, "bye"), (Bytes{0x88, 0x05, 0x03, 0xE8, 'b', 'y', 'e'}));
  EXPECT_EQ(close_frame(1000, ""), (Bytes{0x88, 0x02, 0x03, 0xE8}));
  EXPECT_EQ(close_frame(close_code::no_status, "ignored"), (Bytes{0x88, 0x00}));
  EXPECT_EQ(close_frame(1009, "x"), (Bytes{0x88, 0x03, 0x03, 0xF1, 'x'}));
}

TEST(Close, WriteMaskedFrameRoundTrips) {
  const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
  Bytes frame = close_frame(4000, "going", mask);
  ASSERT_EQ(frame.size(), 6u + 2 + 5);
  EXPECT_EQ(frame[0], 0x88);
  EXPECT_EQ(frame[1], 0x80 | 7);
  EXPECT_EQ(Bytes(frame.begin() + 2, frame.begin() + 6), Bytes(mask, mask + 4));
  apply_mask(frame.data() + 6, 7, mask, 0);
  const CloseParseResult parsed = parse_close_payload(frame.data() + 6, 7);
  ASSERT_TRUE(parsed.ok);
  EXPECT_EQ(parsed.info.code, 4000);
  EXPECT_EQ(parsed.info.reason, "going");
  EXPECT_EQ(close_frame(close_code::no_status, "", mask), (Bytes{0x88, 0x80, 0x37, 0xfa, 0x21, 0x3d}));
}

TEST(Close, LongReasonIsTruncatedToFit) {
  const std::string ascii(500, 'r');
  Bytes frame = close_frame(1001, ascii);
  ASSERT_EQ(frame.size(), 2u + kMaxControlPayload);
  EXPECT_EQ(frame[1], kMaxControlPayload);
  CloseParseResult parsed = parse_close_payload(frame.data() + 2, frame.size() - 2);
  ASSERT_TRUE(parsed.ok);
  EXPECT_EQ(parsed.info.reason, ascii.substr(0, 123));

  // Exactly 123 bytes fit untouched.
  frame = close_frame(1001, ascii.substr(0, 123));
  EXPECT_EQ(frame.size(), 2u + kMaxControlPayload);

  // Cut at a code point boundary so the reason stays valid UTF-8, for each alignment of the
  // multi-byte characters against the 123-byte limit.
  for (const char* unit : {"\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80"}) {
    for (size_t prefix = 0; prefix < 4; ++prefix) {
      std::string reason(prefix, 'p');
      while (reason.size() < 200) reason += unit;
      frame = close_frame(1000, reason);
      ASSERT_LE(frame.size(), kMaxFrameHeaderSize + kMaxControlPayload);
      const size_t payload_size = frame.size() - 2;
      EXPECT_EQ(frame[1], payload_size);
      parsed = parse_close_payload(frame.data() + 2, payload_size);
      ASSERT_TRUE(parsed.ok) << unit << " prefix " << prefix;
      EXPECT_GT(payload_size, kMaxControlPayload - 4);
      EXPECT_EQ(parsed.info.reason, reason.substr(0, payload_size - 2));
    }
  }
}

}  // namespace
}  // namespace wsring::core
