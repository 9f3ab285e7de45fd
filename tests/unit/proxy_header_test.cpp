#include "core/proxy_header.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace wsring::core {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes bytes(const std::string& s) { return Bytes(s.begin(), s.end()); }

ProxyHeader parse(const Bytes& b) { return parse_proxy_header(std::span<const uint8_t>(b.data(), b.size())); }

const uint8_t kSig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

// A v2 header: version/command byte, family/transport byte, then `block` (addresses and TLVs).
Bytes v2(uint8_t ver_cmd, uint8_t fam, const Bytes& block) {
  Bytes b(kSig, kSig + 12);
  b.push_back(ver_cmd);
  b.push_back(fam);
  b.push_back(uint8_t(block.size() >> 8));
  b.push_back(uint8_t(block.size()));
  b.insert(b.end(), block.begin(), block.end());
  return b;
}

Bytes v2_inet_block() { return {192, 0, 2, 7, 10, 0, 0, 1, 0x12, 0x34, 0x1F, 0x90}; }

// Every proper prefix of a valid header is Incomplete (never an error, never Done).
void expect_incomplete_prefixes(const Bytes& header) {
  for (size_t n = 0; n < header.size(); ++n) {
    const ProxyHeader h = parse(Bytes(header.begin(), header.begin() + long(n)));
    EXPECT_EQ(h.status, ProxyStatus::Incomplete) << "prefix of " << n << " bytes";
  }
}

TEST(ProxyHeader, V1Tcp4) {
  const Bytes b = bytes("PROXY TCP4 192.0.2.7 10.0.0.1 4660 8080\r\nGET / HTTP/1.1\r\n");
  const ProxyHeader h = parse(b);
  ASSERT_EQ(h.status, ProxyStatus::Done);
  EXPECT_EQ(h.version, 1);
  EXPECT_EQ(h.length, 41u);
  EXPECT_EQ(h.family, ProxyFamily::Inet);
  EXPECT_FALSE(h.local);
  const uint8_t src[4] = {192, 0, 2, 7}, dst[4] = {10, 0, 0, 1};
  EXPECT_EQ(std::memcmp(h.source.ip, src, 4), 0);
  EXPECT_EQ(std::memcmp(h.destination.ip, dst, 4), 0);
  EXPECT_EQ(h.source.port, 4660);
  EXPECT_EQ(h.destination.port, 8080);
  expect_incomplete_prefixes(Bytes(b.begin(), b.begin() + 41));
}

TEST(ProxyHeader, V1Tcp6) {
  const Bytes b = bytes("PROXY TCP6 2001:db8::1 ::1 65535 0\r\n");
  const ProxyHeader h = parse(b);
  ASSERT_EQ(h.status, ProxyStatus::Done);
  EXPECT_EQ(h.length, b.size());
  EXPECT_EQ(h.family, ProxyFamily::Inet6);
  EXPECT_EQ(h.source.ip[0], 0x20);
  EXPECT_EQ(h.source.ip[2], 0x0d);
  EXPECT_EQ(h.source.ip[15], 1);
  EXPECT_EQ(h.destination.ip[15], 1);
  EXPECT_EQ(h.source.port, 65535);
  EXPECT_EQ(h.destination.port, 0);
  expect_incomplete_prefixes(b);
}

TEST(ProxyHeader, V1Unknown) {
  for (const char* text : {"PROXY UNKNOWN\r\n", "PROXY UNKNOWN ffff::1 ::1 1 2\r\n"}) {
    const Bytes b = bytes(text);
    const ProxyHeader h = parse(b);
    ASSERT_EQ(h.status, ProxyStatus::Done) << text;
    EXPECT_EQ(h.length, b.size());
    EXPECT_EQ(h.family, ProxyFamily::Unknown);
    expect_incomplete_prefixes(b);
  }
}

TEST(ProxyHeader, V1LongestLineIsAccepted) {
  // 107 bytes with "\r\n": the spec's worst case (UNKNOWN with two full IPv6 addresses).
  const std::string ip = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
  const Bytes b = bytes("PROXY UNKNOWN " + ip + " " + ip + " 65535 65535\r\n");
  ASSERT_EQ(b.size(), kProxyV1MaxLength);
  EXPECT_EQ(parse(b).status, ProxyStatus::Done);
  const Bytes tcp6 = bytes("PROXY TCP6 " + ip + " " + ip + " 65535 65535\r\n");
  EXPECT_EQ(parse(tcp6).status, ProxyStatus::Done);
}

TEST(ProxyHeader, V1TooLong) {
  Bytes b = bytes("PROXY UNKNOWN ");
  b.resize(kProxyV1MaxLength, 'x');
  EXPECT_EQ(parse(b).error, ProxyError::TooLong);
  b.resize(kProxyV1MaxLength - 1);
  EXPECT_EQ(parse(b).status, ProxyStatus::Incomplete);
  b.insert(b.end(), {'\r', '\n'});  // the line ends one byte too late
  EXPECT_EQ(parse(b).error, ProxyError::TooLong);
}

TEST(ProxyHeader, V1BadLines) {
  for (const char* text : {
           "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",         // LF without CR
           "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",       // unknown protocol
           "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",         // a field missing
           "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",     // a field too many
           "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n",      // two spaces
           "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",      // trailing space
           "PROXY \r\n",                               // nothing
           "PROXY UNKNOWNX\r\n",                       // not UNKNOWN
       }) {
    const ProxyHeader h = parse(bytes(text));
    EXPECT_EQ(h.status, ProxyStatus::Error) << text;
    EXPECT_EQ(h.error, ProxyError::BadLine) << text;
  }
}

TEST(ProxyHeader, V1BadAddressesAndPorts) {
  for (const char* text : {
           "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n",          // three octets
           "PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n",      // octet past 255
           "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n",       // leading zero
           "PROXY TCP4 ::1 5.6.7.8 1 2\r\n",            // IPv6 under TCP4
           "PROXY TCP6 1.2.3.4 ::1 1 2\r\n",            // IPv4 under TCP6
           "PROXY TCP6 2001:db8:::1 ::1 1 2\r\n",       // bad IPv6
           "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",    // port past 65535
           "PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n",      // leading zero
           "PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",       // sign
           "PROXY TCP4 1.2.3.4 5.6.7.8 1 2x\r\n",       // not a number
           "PROXY TCP4 1.2.3.4 5.6.7.8 123456 2\r\n",   // too many digits
       }) {
    const ProxyHeader h = parse(bytes(text));
    EXPECT_EQ(h.status, ProxyStatus::Error) << text;
    EXPECT_EQ(h.error, ProxyError::BadAddress) << text;
  }
}

TEST(ProxyHeader, WrongSignature) {
  for (const char* text : {"GET / HTTP/1.1\r\n", "proxy TCP4", "PROXYTCP4", "\x16\x03\x01"}) {
    const ProxyHeader h = parse(bytes(text));
    EXPECT_EQ(h.error, ProxyError::BadSignature) << text;
  }
  // A single wrong byte anywhere in the v2 signature.
  for (size_t i = 0; i < 12; ++i) {
    Bytes b = v2(0x21, 0x11, v2_inet_block());
    b[i] ^= 0x40;
    EXPECT_EQ(parse(b).error, ProxyError::BadSignature) << i;
  }
  // A prefix that is still a possible signature is not an error yet.
  EXPECT_EQ(parse(bytes("PRO")).status, ProxyStatus::Incomplete);
  EXPECT_EQ(parse(Bytes(kSig, kSig + 5)).status, ProxyStatus::Incomplete);
  EXPECT_EQ(parse(Bytes{}).status, ProxyStatus::Incomplete);
}

TEST(ProxyHeader, V2ProxyInet) {
  Bytes b = v2(0x21, 0x11, v2_inet_block());
  const size_t length = b.size();
  b.push_back('G');  // the transport's first byte follows
  const ProxyHeader h = parse(b);
  ASSERT_EQ(h.status, ProxyStatus::Done);
  EXPECT_EQ(h.version, 2);
  EXPECT_EQ(h.length, length);
  EXPECT_EQ(h.family, ProxyFamily::Inet);
  EXPECT_FALSE(h.local);
  EXPECT_EQ(h.source.ip[0], 192);
  EXPECT_EQ(h.source.ip[3], 7);
  EXPECT_EQ(h.destination.ip[0], 10);
  EXPECT_EQ(h.source.port, 0x1234);
  EXPECT_EQ(h.destination.port, 8080);
  expect_incomplete_prefixes(Bytes(b.begin(), b.begin() + long(length)));
}

TEST(ProxyHeader, V2ProxyInet6) {
  Bytes block(36, 0);
  block[0] = 0x20, block[1] = 0x01, block[15] = 9;  // 2001::9
  block[31] = 1;                                    // ::1
  block[32] = 0xC3, block[33] = 0x50;               // 50000
  block[34] = 0x01, block[35] = 0xBB;               // 443
  const Bytes b = v2(0x21, 0x21, block);
  const ProxyHeader h = parse(b);
  ASSERT_EQ(h.status, ProxyStatus::Done);
  EXPECT_EQ(h.family, ProxyFamily::Inet6);
  EXPECT_EQ(h.source.ip[0], 0x20);
  EXPECT_EQ(h.source.ip[15], 9);
  EXPECT_EQ(h.destination.ip[15], 1);
  EXPECT_EQ(h.source.port, 50000);
  EXPECT_EQ(h.destination.port, 443);
  expect_incomplete_prefixes(b);
}

TEST(ProxyHeader, V2UnixAndUnspecKeepTheConnectionsAddress) {
  const ProxyHeader unix_header = parse(v2(0x21, 0x31, Bytes(216, 'p')));
  ASSERT_EQ(unix_header.status, ProxyStatus::Done);
  EXPECT_EQ(unix_header.family, ProxyFamily::Unix);
  const ProxyHeader unspec = parse(v2(0x21, 0x00, {}));
  ASSERT_EQ(unspec.status, ProxyStatus::Done);
  EXPECT_EQ(unspec.family, ProxyFamily::Unknown);
  EXPECT_EQ(unspec.length, 16u);
}

TEST(ProxyHeader, V2LocalIgnoresItsAddressBlock) {
  for (const Bytes& block : {Bytes{}, v2_inet_block(), Bytes(5, 0xEE)}) {
    const Bytes b = v2(0x20, 0x11, block);
    const ProxyHeader h = parse(b);
    ASSERT_EQ(h.status, ProxyStatus::Done);
    EXPECT_TRUE(h.local);
    EXPECT_EQ(h.family, ProxyFamily::Unknown);
    EXPECT_EQ(h.length, b.size());
  }
}

TEST(ProxyHeader, V2TlvsAreSkipped) {
  Bytes block = v2_inet_block();
  const Bytes tlvs = {0x01, 0x00, 0x02, 'h', '2',                  // ALPN
                      0x04, 0x00, 0x03, 0, 0, 0,                    // NOOP
                      0x20, 0x00, 0x05, 0x01, 0, 0, 0, 0};          // SSL
  block.insert(block.end(), tlvs.begin(), tlvs.end());
  Bytes b = v2(0x21, 0x11, block);
  const size_t length = b.size();
  b.insert(b.end(), {'G', 'E', 'T'});
  const ProxyHeader h = parse(b);
  ASSERT_EQ(h.status, ProxyStatus::Done);
  EXPECT_EQ(h.length, length);
  EXPECT_EQ(h.source.port, 0x1234);
  expect_incomplete_prefixes(Bytes(b.begin(), b.begin() + long(length)));
}

TEST(ProxyHeader, V2LengthPastTheLimit) {
  Bytes b = v2(0x21, 0x11, Bytes(kProxyV2MaxLength - 16 + 1, 0));
  EXPECT_EQ(parse(Bytes(b.begin(), b.begin() + 16)).error, ProxyError::TooLong);  // known from the length field
  const Bytes largest = v2(0x21, 0x11, Bytes(kProxyV2MaxLength - 16, 0));
  EXPECT_EQ(parse(largest).status, ProxyStatus::Done);
}

TEST(ProxyHeader, V2LengthPastTheBufferIsIncomplete) {
  Bytes b = v2(0x21, 0x11, v2_inet_block());
  b[15] = 200;  // says 200 bytes follow; 12 do
  EXPECT_EQ(parse(b).status, ProxyStatus::Incomplete);
}

TEST(ProxyHeader, V2Unsupported) {
  EXPECT_EQ(parse(v2(0x11, 0x11, v2_inet_block())).error, ProxyError::Unsupported);  // version 1
  EXPECT_EQ(parse(v2(0x31, 0x11, v2_inet_block())).error, ProxyError::Unsupported);  // version 3
  EXPECT_EQ(parse(v2(0x22, 0x11, v2_inet_block())).error, ProxyError::Unsupported);  // command 2
  EXPECT_EQ(parse(v2(0x21, 0x12, v2_inet_block())).error, ProxyError::Unsupported);  // datagram
  EXPECT_EQ(parse(v2(0x21, 0x41, v2_inet_block())).error, ProxyError::Unsupported);  // family 4
}

TEST(ProxyHeader, V2AddressBlockTooShortForItsFamily) {
  EXPECT_EQ(parse(v2(0x21, 0x11, Bytes(11, 0))).error, ProxyError::BadAddress);
  EXPECT_EQ(parse(v2(0x21, 0x21, Bytes(35, 0))).error, ProxyError::BadAddress);
  EXPECT_EQ(parse(v2(0x21, 0x31, Bytes(215, 0))).error, ProxyError::BadAddress);
}

TEST(ProxyHeader, ErrorNames) {
  EXPECT_STREQ(proxy_error_name(ProxyError::BadSignature), "bad_signature");
  EXPECT_STREQ(proxy_error_name(ProxyError::Unsupported), "unsupported");
}

}  // namespace
}  // namespace wsring::core
