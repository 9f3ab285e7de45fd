#include "core/proxy_header.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <string_view>

namespace wsring::core {
namespace {

constexpr uint8_t kV2Signature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr char kV1Prefix[] = "PROXY ";
constexpr size_t kV1PrefixLength = sizeof kV1Prefix - 1;
constexpr size_t kV2FixedLength = 16;

ProxyHeader incomplete(uint8_t version) {
  ProxyHeader h;
  h.version = version;
  return h;
}

ProxyHeader failed(ProxyError e, uint8_t version) {
  ProxyHeader h;
  h.status = ProxyStatus::Error;
  h.error = e;
  h.version = version;
  return h;
}

// Whether the first bytes of `input` agree with `prefix` as far as both go.
bool starts_like(std::span<const uint8_t> input, const uint8_t* prefix, size_t prefix_length) {
  const size_t n = std::min(input.size(), prefix_length);
  return std::memcmp(input.data(), prefix, n) == 0;
}

// A decimal port: 0 to 65535, no sign, no leading zero (except "0" itself).
bool parse_port(std::string_view text, uint16_t& out) {
  if (text.empty() || text.size() > 5 || (text.size() > 1 && text[0] == '0')) return false;
  uint32_t value = 0;
  for (char ch : text) {
    if (ch < '0' || ch > '9') return false;
    value = value * 10 + uint32_t(ch - '0');
  }
  if (value > 65535) return false;
  out = uint16_t(value);
  return true;
}

// A numeric address of `family` (AF_INET: dotted quad without leading zeros; AF_INET6).
bool parse_ip(std::string_view text, int family, uint8_t* out) {
  char copy[64];  // the longest IPv6 text is 45 characters
  if (text.empty() || text.size() >= sizeof copy) return false;
  std::memcpy(copy, text.data(), text.size());
  copy[text.size()] = '\0';
  return inet_pton(family, copy, out) == 1;
}

// Splits `line` at single spaces into at most `max` fields and returns how many; 0 on an empty
// field (two spaces, a leading or trailing space) or more than `max` fields.
size_t split_fields(std::string_view line, std::string_view* fields, size_t max) {
  size_t count = 0;
  while (true) {
    const size_t space = line.find(' ');
    const std::string_view field = line.substr(0, space);
    if (field.empty() || count == max) return 0;
    fields[count++] = field;
    if (space == std::string_view::npos) return count;
    line.remove_prefix(space + 1);
  }
}

// "PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n" or "PROXY UNKNOWN[ anything]\r\n".
ProxyHeader parse_v1(std::span<const uint8_t> input) {
  const size_t window = std::min(input.size(), kProxyV1MaxLength);
  const auto* text = reinterpret_cast<const char*>(input.data());
  const void* newline = std::memchr(text, '\n', window);
  if (!newline) {
    if (input.size() >= kProxyV1MaxLength) return failed(ProxyError::TooLong, 1);
    return incomplete(1);
  }
  const size_t end = size_t(static_cast<const char*>(newline) - text);
  if (end < kV1PrefixLength + 1 || text[end - 1] != '\r') return failed(ProxyError::BadLine, 1);
  std::string_view line(text + kV1PrefixLength, end - 1 - kV1PrefixLength);
  ProxyHeader h;
  h.version = 1;
  h.length = end + 1;
  if (line.substr(0, 7) == "UNKNOWN" && (line.size() == 7 || line[7] == ' ')) {
    h.status = ProxyStatus::Done;  // the spec: ignore what follows UNKNOWN
    return h;
  }
  std::string_view fields[5];
  if (split_fields(line, fields, 5) != 5) return failed(ProxyError::BadLine, 1);
  const bool v4 = fields[0] == "TCP4";
  if (!v4 && fields[0] != "TCP6") return failed(ProxyError::BadLine, 1);
  const int family = v4 ? AF_INET : AF_INET6;
  if (!parse_ip(fields[1], family, h.source.ip) || !parse_ip(fields[2], family, h.destination.ip) ||
      !parse_port(fields[3], h.source.port) || !parse_port(fields[4], h.destination.port))
    return failed(ProxyError::BadAddress, 1);
  h.family = v4 ? ProxyFamily::Inet : ProxyFamily::Inet6;
  h.status = ProxyStatus::Done;
  return h;
}

uint16_t read_u16(const uint8_t* p) { return uint16_t((p[0] << 8) | p[1]); }

// 12-byte signature, version/command, family/transport, length (big endian), addresses, TLVs.
ProxyHeader parse_v2(std::span<const uint8_t> input) {
  if (input.size() < kV2FixedLength) return incomplete(2);
  const uint8_t* p = input.data();
  const uint8_t version = p[12] >> 4, command = p[12] & 0x0F;
  const uint8_t family = p[13] >> 4, transport = p[13] & 0x0F;
  const size_t length = kV2FixedLength + read_u16(p + 14);
  if (version != 2 || command > 1) return failed(ProxyError::Unsupported, 2);
  if (length > kProxyV2MaxLength) return failed(ProxyError::TooLong, 2);
  if (input.size() < length) return incomplete(2);
  ProxyHeader h;
  h.version = 2;
  h.length = length;
  h.status = ProxyStatus::Done;
  if (command == 0) {  // LOCAL: the balancer's own connection; the address block is ignored
    h.local = true;
    return h;
  }
  if (transport > 1 || family > 3) return failed(ProxyError::Unsupported, 2);  // datagram, or unknown
  const size_t block = length - kV2FixedLength;
  const uint8_t* a = p + kV2FixedLength;
  switch (family) {
    case 1:    // AF_INET: src, dst (4 bytes each), src port, dst port
    case 2: {  // AF_INET6: the same with 16-byte addresses
      const size_t ip = family == 1 ? 4 : 16;
      if (block < 2 * ip + 4) return failed(ProxyError::BadAddress, 2);
      h.family = family == 1 ? ProxyFamily::Inet : ProxyFamily::Inet6;
      std::memcpy(h.source.ip, a, ip);
      std::memcpy(h.destination.ip, a + ip, ip);
      h.source.port = read_u16(a + 2 * ip);
      h.destination.port = read_u16(a + 2 * ip + 2);
      break;
    }
    case 3:  // AF_UNIX: two 108-byte paths, no IP client
      if (block < 216) return failed(ProxyError::BadAddress, 2);
      h.family = ProxyFamily::Unix;
      break;
    default:  // UNSPEC: use the connection's own addresses
      break;
  }
  return h;
}

}  // namespace

const char* proxy_error_name(ProxyError e) {
  switch (e) {
    case ProxyError::None: return "none";
    case ProxyError::BadSignature: return "bad_signature";
    case ProxyError::TooLong: return "too_long";
    case ProxyError::BadLine: return "bad_line";
    case ProxyError::BadAddress: return "bad_address";
    case ProxyError::Unsupported: return "unsupported";
  }
  return "?";
}

ProxyHeader parse_proxy_header(std::span<const uint8_t> input) {
  if (input.empty()) return incomplete(0);
  if (input[0] == kV2Signature[0]) {
    if (!starts_like(input, kV2Signature, sizeof kV2Signature)) return failed(ProxyError::BadSignature, 0);
    return parse_v2(input);
  }
  if (!starts_like(input, reinterpret_cast<const uint8_t*>(kV1Prefix), kV1PrefixLength))
    return failed(ProxyError::BadSignature, 0);
  if (input.size() < kV1PrefixLength) return incomplete(1);
  return parse_v1(input);
}

}  // namespace wsring::core
