// Zero-copy, incremental parser for the HTTP/1.1 request head that opens a WebSocket
// (RFC 9112 message syntax). Views point into the caller's input; nothing is allocated.
//
// Version: only HTTP/1.1 is spoken. Any other well-formed HTTP-version (HTTP/1.0, HTTP/1.9,
// HTTP/2.0, ...) is answered with 505: RFC 6455 §4.1 requires 1.1 or later for the upgrade, and a
// later version on an HTTP/1 request line is not HTTP/2 (that starts with its own preface).
// Request target (RFC 9112 §3.2): origin-form "/path?query" or absolute-form "http://host/path";
// the asterisk-form "*" only with OPTIONS and the authority-form "host:port" only with CONNECT;
// anything else is 400.
//
// Line endings: only CRLF is accepted. A bare LF (or a CR not followed by LF) is answered with
// 400: accepting bare LF invites request smuggling when a proxy in front disagrees.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace wsring::core {

struct HttpHeader {
  std::string_view name;
  std::string_view value;  // trimmed of SP/HTAB on both ends
};

constexpr size_t kMaxHeaderCapacity = 256;  // hard cap on the configurable header count

struct RequestLimits {
  size_t max_header_bytes = 8192;  // whole head, request line to the final CRLFCRLF included
  size_t max_headers = 64;         // clamped to kMaxHeaderCapacity
  // HTTP/1.0 accepted too (version then "HTTP/1.0"): for plain GETs, where health checkers and
  // old tools still send it. Never for an upgrade, which needs 1.1.
  bool accept_http10 = false;
};

// ASCII case-insensitive equality (HTTP names and tokens are ASCII).
bool ascii_iequals(std::string_view a, std::string_view b);

// RFC 9110 §5.6.2 token: one or more tchar (letters, digits, !#$%&'*+-.^_`|~). The one token
// table of the project: methods, header names, and configured subprotocol names.
bool is_http_token(std::string_view text);

// RFC 9110 §7.2 Host value: uri-host [":" port], where uri-host is a reg-name (unreserved,
// pct-encoded and sub-delims characters), an IPv4 address or an [IPv6] literal (RFC 3986 §3.2.2),
// and port is 1 to 5 digits up to 65535. Empty is not valid.
bool is_valid_host(std::string_view host);

// Queries over a parsed header list; names compare case-insensitively.
std::string_view find_header(std::span<const HttpHeader> headers, std::string_view name);
size_t count_headers(std::span<const HttpHeader> headers, std::string_view name);
// True if the comma-separated list `value` has an element (trimmed of SP/HTAB) equal to
// `token` case-insensitively.
bool list_has_token(std::string_view value, std::string_view token);
// True if any comma-separated token (trimmed of SP/HTAB) of any instance of header `name`
// equals `token` case-insensitively: "keep-alive, Upgrade" has the token "upgrade".
bool headers_have_token(std::span<const HttpHeader> headers, std::string_view name,
                        std::string_view token);

struct UpgradeRequest {
  // version is "HTTP/1.1" once Complete ("HTTP/1.0" too when RequestLimits::accept_http10).
  std::string_view method, target, version;
  std::array<HttpHeader, kMaxHeaderCapacity> headers;
  size_t header_count = 0;

  std::span<const HttpHeader> header_list() const { return {headers.data(), header_count}; }
};

enum class ParseStatus : uint8_t { NeedMore, Complete, Error };

struct ParseResult {
  ParseStatus status = ParseStatus::NeedMore;
  size_t consumed = 0;          // Complete: bytes of the request incl. the final CRLFCRLF; bytes after it are frames
  int http_status = 0;          // Error: 400, 431 or 505
  const char* error = nullptr;  // Error: short text for the response body, e.g. "request header too large"
};

// Parses input (a prefix of the stream, may be incomplete). Views in `out` point into input;
// `out` is meaningful only when the result is Complete.
// NeedMore while the header end has not arrived and the limits are not exceeded. Errors depend
// only on the bytes seen so far, so once a prefix yields Error (or Complete), every longer
// input yields the same result. Limits are enforced while incomplete too: a client dribbling
// an endless head gets 431 as soon as it passes max_header_bytes or max_headers.
ParseResult parse_upgrade_request(std::string_view input, const RequestLimits& limits,
                                  UpgradeRequest& out);

// ---- Building blocks shared with the client's response parser (client_handshake.hpp).

// One line of a message head starting at `pos` in `window`.
struct HeadLine {
  ParseStatus status = ParseStatus::NeedMore;  // Complete, NeedMore (no CRLF yet) or Error
  std::string_view text;                       // Complete: the line without its CRLF
  size_t next = 0;                             // Complete: offset just after the CRLF
  const char* error = nullptr;                 // Error: why (bare LF, control byte, ...)
};
// Finds the CRLF ending the line at `pos`. Control bytes other than HTAB inside the line are an
// error (NUL, bare CR, bare LF, DEL); bytes >= 0x80 are allowed (obs-text).
HeadLine next_head_line(std::string_view window, size_t pos);

// Parses header field lines from `pos` (just after the start line) through the empty line.
// Complete: consumed = offset after the final CRLF. Error: 400 for syntax, 431 when a header
// line beyond max_headers starts (out.size() is the maximum). NeedMore: the window ended first
// (the caller decides whether that means 431 because the window is already at its limit).
ParseResult parse_header_fields(std::string_view window, size_t pos, std::span<HttpHeader> out,
                                size_t& count);

}  // namespace wsring::core
