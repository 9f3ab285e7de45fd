// The PROXY protocol header (HAProxy's spec, versions 1 and 2), sans-I/O: a load balancer
// sends it first on a connection to name the client it relays. Bytes in; out: Incomplete (feed
// more), Done (its length and the addresses) or Error (why). Nothing is allocated or copied
// beyond the result; the caller gathers a header split across receives and calls again.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace wsring::core {

// Longest v1 line, "\r\n" included (the spec's limit).
constexpr size_t kProxyV1MaxLength = 107;
// Longest v2 header accepted (16 fixed bytes + addresses + TLVs): more is an error, so a
// connection gathering a header holds a bounded buffer. Real balancers send well under 300.
constexpr size_t kProxyV2MaxLength = 1024;
// The most bytes a header can take: what a caller gathering one must be able to hold.
constexpr size_t kProxyMaxLength = kProxyV2MaxLength;

enum class ProxyStatus : uint8_t { Incomplete, Done, Error };

enum class ProxyError : uint8_t {
  None,
  BadSignature,  // neither "PROXY " nor the v2 signature: not a PROXY header
  TooLong,       // v1 line without "\r\n" within 107 bytes, or a v2 length past the limit
  BadLine,       // v1: wrong protocol word, fields, separators
  BadAddress,    // v1 address or port malformed; v2 address block shorter than its family needs
  Unsupported,   // v2: unknown version, command, family or transport (datagram)
};
constexpr size_t kProxyErrorKinds = 6;
const char* proxy_error_name(ProxyError e);

enum class ProxyFamily : uint8_t { Unknown, Inet, Inet6, Unix };

struct ProxyAddress {
  uint8_t ip[16] = {};  // 4 bytes for Inet, 16 for Inet6, network order
  uint16_t port = 0;    // host order
};

struct ProxyHeader {
  ProxyStatus status = ProxyStatus::Incomplete;
  ProxyError error = ProxyError::None;
  uint8_t version = 0;  // 1 or 2 once known
  size_t length = 0;    // Done: bytes the header took (what follows belongs to the transport)
  // Done: Inet/Inet6 carry the client (source) and the address it connected to (destination).
  // Unknown (v1 UNKNOWN, v2 LOCAL or UNSPEC) and Unix name no IP client: the connection keeps
  // the proxy's address. `local` is v2's LOCAL command (a balancer's own health check).
  ProxyFamily family = ProxyFamily::Unknown;
  bool local = false;
  ProxyAddress source;
  ProxyAddress destination;
};

// Parses the header at the start of `input` (which may hold more: the transport's first bytes).
// Incomplete only while `input` could still become a valid header; a wrong first byte is an error
// at once.
ProxyHeader parse_proxy_header(std::span<const uint8_t> input);

}  // namespace wsring::core
