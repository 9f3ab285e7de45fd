#include "core/http_request.hpp"

#include <algorithm>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace wsring::core {
namespace {

// tchar from RFC 9110 §5.6.2: the bytes allowed in methods and header names (1 = allowed;
// integers rather than bool so several lookups combine with a branch-free &).
constexpr std::array<uint8_t, 256> make_token_table() {
  std::array<uint8_t, 256> table{};
  for (int c = '0'; c <= '9'; ++c) table[c] = 1;
  for (int c = 'a'; c <= 'z'; ++c) table[c] = 1;
  for (int c = 'A'; c <= 'Z'; ++c) table[c] = 1;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) table[static_cast<unsigned char>(c)] = 1;
  return table;
}
constexpr std::array<uint8_t, 256> kTokenChar = make_token_table();

constexpr bool is_space_or_tab(char c) { return c == ' ' || c == '\t'; }

constexpr bool is_control(unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7F; }

// Inlined on purpose, like find_control and scan_line below: called per header line, and an
// out-of-line call with a struct return costs ~10% of a whole parse.
[[gnu::always_inline]] inline std::string_view trim(std::string_view text) {
  size_t begin = 0;
  size_t end = text.size();
  while (begin < end && is_space_or_tab(text[begin])) ++begin;
  while (end > begin && is_space_or_tab(text[end - 1])) --end;
  return text.substr(begin, end - begin);
}

// Offset of the first control byte (other than HTAB) at or after pos, or size if none.
// Every line of a head ends at its first control byte, which must be the CR of a CRLF, so one
// scan both finds the line end and validates the line.
[[gnu::always_inline]] inline size_t find_control(const char* data, size_t pos, size_t size) {
#if defined(__SSE2__)
  const __m128i max_control = _mm_set1_epi8(0x1F);
  const __m128i tab = _mm_set1_epi8('\t');
  const __m128i del = _mm_set1_epi8(0x7F);
  while (pos + 16 <= size) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + pos));
    // Unsigned bytes <= 0x1F are exactly those unchanged by min(byte, 0x1F).
    __m128i control = _mm_cmpeq_epi8(_mm_min_epu8(bytes, max_control), bytes);
    control = _mm_andnot_si128(_mm_cmpeq_epi8(bytes, tab), control);
    control = _mm_or_si128(control, _mm_cmpeq_epi8(bytes, del));
    const int mask = _mm_movemask_epi8(control);
    if (mask != 0) return pos + static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
    pos += 16;
  }
#endif
  for (; pos < size; ++pos) {
    if (is_control(static_cast<unsigned char>(data[pos]))) return pos;
  }
  return size;
}

// The line starting at pos: Complete, NeedMore (no CRLF in the window yet) or Error.
[[gnu::always_inline]] inline HeadLine scan_line(std::string_view window, size_t pos) {
  HeadLine line;
  const size_t end = find_control(window.data(), pos, window.size());
  if (end == window.size()) return line;  // NeedMore
  if (window[end] == '\r') {
    if (end + 1 == window.size()) return line;  // NeedMore: the LF may follow
    if (window[end + 1] == '\n') {
      line.status = ParseStatus::Complete;
      line.text = window.substr(pos, end - pos);
      line.next = end + 2;
      return line;
    }
    line.error = "CR not followed by LF";
  } else if (window[end] == '\n') {
    line.error = "bare LF line ending (CRLF required)";
  } else {
    line.error = "control character in request head";
  }
  line.status = ParseStatus::Error;
  return line;
}

ParseResult error_result(int http_status, const char* error) {
  ParseResult result;
  result.status = ParseStatus::Error;
  result.http_status = http_status;
  result.error = error;
  return result;
}

// Small enough to come back in registers (a ParseResult would go through memory).
struct LineVerdict {
  int http_status = 0;  // 0: the line is fine
  const char* error = nullptr;
};

// absolute-form starts with a URI scheme and "://" (RFC 3986 §3.1: ALPHA *(ALPHA / DIGIT / + - .)).
bool is_absolute_form(std::string_view target) {
  const size_t colon = target.find("://");
  if (colon == std::string_view::npos || colon == 0) return false;
  for (size_t i = 0; i < colon; ++i) {
    const char c = target[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!alpha && (i == 0 || !((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'))) return false;
  }
  return true;
}

// RFC 9112 §3.2: which request-target forms a method may use.
LineVerdict check_target_form(std::string_view method, std::string_view target) {
  if (target == "*") {
    return method == "OPTIONS" ? LineVerdict{} : LineVerdict{400, "request target '*' is only allowed with OPTIONS"};
  }
  if (target.front() == '/' || is_absolute_form(target) || method == "CONNECT") return LineVerdict{};
  return LineVerdict{400, "request target must be a path starting with '/' or an absolute URI"};
}

// Parses "METHOD SP target SP HTTP/x.y" (the line has been checked for control bytes).
LineVerdict parse_request_line(std::string_view line, UpgradeRequest& out, bool accept_http10) {
  const size_t method_end = line.find(' ');
  if (method_end == std::string_view::npos) return LineVerdict{400, "malformed request line"};
  out.method = line.substr(0, method_end);
  if (!is_http_token(out.method)) return LineVerdict{400, "invalid request method"};

  const size_t target_begin = method_end + 1;
  const size_t target_end = line.find(' ', target_begin);
  if (target_end == std::string_view::npos) return LineVerdict{400, "malformed request line"};
  out.target = line.substr(target_begin, target_end - target_begin);
  if (out.target.empty()) return LineVerdict{400, "empty request target"};
  for (char c : out.target) {
    // Controls are already excluded; a target is visible ASCII only (RFC 3986 has no raw 8-bit).
    if (static_cast<unsigned char>(c) >= 0x80) {
      return LineVerdict{400, "invalid character in request target"};
    }
  }

  out.version = line.substr(target_end + 1);
  const std::string_view v = out.version;
  if (v.size() != 8 || v.substr(0, 5) != "HTTP/" || v[5] < '0' || v[5] > '9' || v[6] != '.' ||
      v[7] < '0' || v[7] > '9') {
    return LineVerdict{400, "malformed HTTP version"};
  }
  if (v != "HTTP/1.1" && !(accept_http10 && v == "HTTP/1.0"))
    return LineVerdict{505, "HTTP version not supported: this server speaks HTTP/1.1 only"};
  return check_target_form(out.method, out.target);
}

// ---- Host (RFC 3986 §3.2.2)

constexpr bool is_hex_digit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }

// unreserved / sub-delims: the characters of a reg-name besides pct-encoded.
constexpr bool is_reg_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) ||
         std::string_view("-._~!$&'()*+,;=").find(c) != std::string_view::npos;
}

bool is_reg_name(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (name[i] == '%') {
      if (i + 2 >= name.size() || !is_hex_digit(name[i + 1]) || !is_hex_digit(name[i + 2])) return false;
      i += 2;
    } else if (!is_reg_name_char(name[i])) {
      return false;
    }
  }
  return true;
}

// dec-octet "." dec-octet "." dec-octet "." dec-octet, no leading zeros.
bool is_ipv4(std::string_view text) {
  for (int octet = 0; octet < 4; ++octet) {
    size_t digits = 0;
    unsigned value = 0;
    while (digits < text.size() && digits < 4 && is_digit(text[digits])) {
      value = value * 10 + unsigned(text[digits++] - '0');
    }
    if (digits == 0 || digits > 3 || value > 255 || (digits > 1 && text[0] == '0')) return false;
    text.remove_prefix(digits);
    if (octet < 3) {
      if (text.empty() || text[0] != '.') return false;
      text.remove_prefix(1);
    }
  }
  return text.empty();
}

// RFC 4291 §2.2 text form: eight groups of 1-4 hex digits, one "::" standing for one or more zero
// groups, and optionally an IPv4 address in place of the last two groups.
bool is_ipv6(std::string_view text) {
  int groups = 0;
  bool elided = false;
  size_t i = 0;
  if (text.substr(0, 2) == "::") {
    elided = true;
    i = 2;
  }
  while (i < text.size()) {
    size_t end = i;
    while (end < text.size() && is_hex_digit(text[end])) ++end;
    if (end < text.size() && text[end] == '.') {  // the IPv4 tail ends the address
      if (!is_ipv4(text.substr(i))) return false;
      groups += 2;
      break;
    }
    if (end == i || end - i > 4) return false;
    ++groups;
    i = end;
    if (i == text.size()) break;
    if (text[i] != ':' || ++i == text.size()) return false;  // a group is followed by ':' and more
    if (text[i] == ':') {
      if (elided) return false;
      elided = true;
      ++i;
    }
  }
  return elided ? groups <= 7 : groups == 8;
}

// IP-literal = "[" ( IPv6address / IPvFuture ) "]"; IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ).
bool is_ip_literal_body(std::string_view body) {
  if (!body.empty() && (body[0] == 'v' || body[0] == 'V')) {
    size_t i = 1;
    while (i < body.size() && is_hex_digit(body[i])) ++i;
    if (i == 1 || i + 1 >= body.size() || body[i] != '.') return false;
    for (char c : body.substr(i + 1)) {
      if (c == '%' || !(is_reg_name_char(c) || c == ':')) return false;
    }
    return true;
  }
  return is_ipv6(body);
}

bool is_port(std::string_view port) {
  if (port.empty() || port.size() > 5) return false;
  unsigned value = 0;
  for (char c : port) {
    if (!is_digit(c)) return false;
    value = value * 10 + unsigned(c - '0');
  }
  return value <= 65535;
}

}  // namespace

bool is_http_token(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!kTokenChar[static_cast<unsigned char>(c)]) return false;
  }
  return true;
}

bool is_valid_host(std::string_view host) {
  std::string_view rest;
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    if (close == std::string_view::npos || !is_ip_literal_body(host.substr(1, close - 1))) return false;
    rest = host.substr(close + 1);
  } else {
    const size_t colon = host.find(':');  // a reg-name or IPv4 address has none
    if (!is_reg_name(host.substr(0, colon))) return false;  // IPv4 is a reg-name too, syntactically
    if (colon != std::string_view::npos) rest = host.substr(colon);
  }
  return rest.empty() || (rest.front() == ':' && is_port(rest.substr(1)));
}

bool ascii_iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const unsigned char x = static_cast<unsigned char>(a[i]);
    const unsigned char y = static_cast<unsigned char>(b[i]);
    if (x == y) continue;
    const unsigned char lower = x | 0x20;
    if (lower != (y | 0x20) || lower < 'a' || lower > 'z') return false;
  }
  return true;
}

std::string_view find_header(std::span<const HttpHeader> headers, std::string_view name) {
  for (const HttpHeader& header : headers) {
    if (ascii_iequals(header.name, name)) return header.value;
  }
  return {};
}

size_t count_headers(std::span<const HttpHeader> headers, std::string_view name) {
  size_t count = 0;
  for (const HttpHeader& header : headers) {
    if (ascii_iequals(header.name, name)) ++count;
  }
  return count;
}

bool list_has_token(std::string_view value, std::string_view token) {
  while (true) {
    const size_t comma = value.find(',');
    if (ascii_iequals(trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) return false;
    value.remove_prefix(comma + 1);
  }
}

bool headers_have_token(std::span<const HttpHeader> headers, std::string_view name,
                        std::string_view token) {
  for (const HttpHeader& header : headers) {
    if (ascii_iequals(header.name, name) && list_has_token(header.value, token)) return true;
  }
  return false;
}

HeadLine next_head_line(std::string_view window, size_t pos) { return scan_line(window, pos); }

ParseResult parse_header_fields(std::string_view window, size_t pos, std::span<HttpHeader> out,
                                size_t& count) {
  count = 0;
  while (true) {
    if (pos >= window.size()) return ParseResult{};  // NeedMore
    const char first = window[pos];
    if (first == '\r') {
      if (pos + 1 == window.size()) return ParseResult{};
      if (window[pos + 1] != '\n') return error_result(400, "CR not followed by LF");
      return ParseResult{ParseStatus::Complete, pos + 2, 0, nullptr};
    }
    if (first == '\n') return error_result(400, "bare LF line ending (CRLF required)");
    if (is_space_or_tab(first)) {
      return error_result(400, count == 0 ? "whitespace before the first header"
                                          : "obsolete header line folding");
    }
    if (count == out.size()) return error_result(431, "too many headers");

    const HeadLine line = scan_line(window, pos);
    if (line.status == ParseStatus::NeedMore) return ParseResult{};
    if (line.status == ParseStatus::Error) return error_result(400, line.error);

    const std::string_view text = line.text;
    // The name runs to the first non-token byte, which must be the colon. Four bytes per step
    // first: names average a dozen bytes, and this made the whole parse ~10% faster.
    const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
    size_t colon = 0;
    while (colon + 4 <= text.size() && (kTokenChar[bytes[colon]] & kTokenChar[bytes[colon + 1]] &
                                        kTokenChar[bytes[colon + 2]] & kTokenChar[bytes[colon + 3]])) {
      colon += 4;
    }
    while (colon < text.size() && kTokenChar[bytes[colon]]) ++colon;
    if (colon == text.size()) return error_result(400, "header line without colon");
    if (text[colon] != ':') {
      if (text.find(':', colon) == std::string_view::npos) return error_result(400, "header line without colon");
      return error_result(400, is_space_or_tab(text[colon]) ? "whitespace in header name or before colon"
                                                            : "invalid character in header name");
    }
    if (colon == 0) return error_result(400, "empty header name");
    out[count].name = text.substr(0, colon);
    out[count].value = trim(text.substr(colon + 1));
    ++count;
    pos = line.next;
  }
}

ParseResult parse_upgrade_request(std::string_view input, const RequestLimits& limits,
                                  UpgradeRequest& out) {
  out.header_count = 0;
  const size_t byte_limit = limits.max_header_bytes;
  // Only the first byte_limit bytes can belong to an acceptable head, so parse just those:
  // the result then depends on the window alone, never on how much more has arrived.
  const std::string_view window = input.substr(0, std::min(input.size(), byte_limit));
  const auto incomplete = [&]() {
    return input.size() >= byte_limit ? error_result(431, "request header too large")
                                      : ParseResult{};
  };

  const HeadLine request_line = scan_line(window, 0);
  if (request_line.status == ParseStatus::NeedMore) return incomplete();
  if (request_line.status == ParseStatus::Error) return error_result(400, request_line.error);
  const LineVerdict verdict = parse_request_line(request_line.text, out, limits.accept_http10);
  if (verdict.http_status != 0) return error_result(verdict.http_status, verdict.error);

  const size_t max_headers = std::min(limits.max_headers, kMaxHeaderCapacity);
  const ParseResult result =
      parse_header_fields(window, request_line.next,
                          std::span<HttpHeader>(out.headers.data(), max_headers), out.header_count);
  if (result.status == ParseStatus::NeedMore) return incomplete();
  return result;
}

}  // namespace wsring::core
