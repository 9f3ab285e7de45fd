#include "core/http_request.hpp"

#include <algorithm>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace wsring::core {
namespace {

// tchar from RFC 7230 §3.2.6: the bytes allowed in methods and header names (1 = allowed;
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

bool is_token(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!kTokenChar[static_cast<unsigned char>(c)]) return false;
  }
  return true;
}

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

// Parses "METHOD SP target SP HTTP/x.y" (the line has been checked for control bytes).
LineVerdict parse_request_line(std::string_view line, UpgradeRequest& out) {
  const size_t method_end = line.find(' ');
  if (method_end == std::string_view::npos) return LineVerdict{400, "malformed request line"};
  out.method = line.substr(0, method_end);
  if (!is_token(out.method)) return LineVerdict{400, "invalid request method"};

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
  out.version_major = v[5] - '0';
  out.version_minor = v[7] - '0';
  if (out.version_major != 1) return LineVerdict{505, "HTTP version not supported"};
  return LineVerdict{};
}

}  // namespace

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

std::string_view UpgradeRequest::header(std::string_view name) const {
  return find_header(header_list(), name);
}

size_t UpgradeRequest::count(std::string_view name) const {
  return count_headers(header_list(), name);
}

bool UpgradeRequest::has(std::string_view name) const {
  for (const HttpHeader& h : header_list()) {
    if (ascii_iequals(h.name, name)) return true;
  }
  return false;
}

bool UpgradeRequest::has_token(std::string_view name, std::string_view token) const {
  return headers_have_token(header_list(), name, token);
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
  const LineVerdict verdict = parse_request_line(request_line.text, out);
  if (verdict.http_status != 0) return error_result(verdict.http_status, verdict.error);

  const size_t max_headers = std::min(limits.max_headers, kMaxHeaderCapacity);
  const ParseResult result =
      parse_header_fields(window, request_line.next,
                          std::span<HttpHeader>(out.headers.data(), max_headers), out.header_count);
  if (result.status == ParseStatus::NeedMore) return incomplete();
  return result;
}

}  // namespace wsring::core
