#include "core/http_request.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace wsring::core {
namespace {

const std::string kChromeRequest =
    "GET /chat?room=1 HTTP/1.1\r\n"
    "Host: example.com:8080\r\n"
    "Connection: Upgrade\r\n"
    "Pragma: no-cache\r\n"
    "Cache-Control: no-cache\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36\r\n"
    "Upgrade: websocket\r\n"
    "Origin: http://example.com:8080\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "\r\n";

// UpgradeRequest holds 256 header slots (8 KiB): keep it off the test's stack frames.
struct Parsed {
  std::unique_ptr<UpgradeRequest> request = std::make_unique<UpgradeRequest>();
  ParseResult result;
};

Parsed parse(std::string_view input, RequestLimits limits = {}) {
  Parsed parsed;
  parsed.result = parse_upgrade_request(input, limits, *parsed.request);
  return parsed;
}

TEST(HttpRequest, ParsesTypicalBrowserRequest) {
  const Parsed p = parse(kChromeRequest);
  ASSERT_EQ(p.result.status, ParseStatus::Complete) << p.result.error;
  EXPECT_EQ(p.result.consumed, kChromeRequest.size());
  const UpgradeRequest& r = *p.request;
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.target, "/chat?room=1");
  EXPECT_EQ(r.version, "HTTP/1.1");
  EXPECT_EQ(r.header_count, 12u);
  EXPECT_EQ(r.headers[0].name, "Host");
  EXPECT_EQ(r.headers[0].value, "example.com:8080");
  EXPECT_EQ(find_header(r.header_list(), "sec-websocket-key"), "dGhlIHNhbXBsZSBub25jZQ==");
  EXPECT_EQ(find_header(r.header_list(), "ACCEPT-ENCODING"), "gzip, deflate, br");
  EXPECT_EQ(find_header(r.header_list(), "Cookie"), "");
  EXPECT_EQ(count_headers(r.header_list(), "Host"), 1u);
  // Views point into the input, no copies.
  EXPECT_GE(r.target.data(), kChromeRequest.data());
  EXPECT_LT(r.target.data(), kChromeRequest.data() + kChromeRequest.size());
}

TEST(HttpRequest, ValuesAreTrimmedAndEmptyValuesAllowed) {
  const Parsed p = parse("GET / HTTP/1.1\r\nA: \t spaced out \t \r\nB:\r\nC:x\r\n\r\n");
  ASSERT_EQ(p.result.status, ParseStatus::Complete) << p.result.error;
  EXPECT_EQ(find_header(p.request->header_list(), "A"), "spaced out");
  EXPECT_EQ(count_headers(p.request->header_list(), "B"), 1u);
  EXPECT_EQ(find_header(p.request->header_list(), "B"), "");
  EXPECT_EQ(find_header(p.request->header_list(), "C"), "x");
}

TEST(HttpRequest, EverySplitPointNeedsMoreUntilComplete) {
  const std::string frames = "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";  // a masked "Hello"
  const std::string stream = kChromeRequest + frames;
  for (size_t length = 0; length < kChromeRequest.size(); ++length) {
    const Parsed p = parse(std::string_view(stream).substr(0, length));
    ASSERT_EQ(p.result.status, ParseStatus::NeedMore) << "prefix length " << length;
  }
  for (size_t length = kChromeRequest.size(); length <= stream.size(); ++length) {
    const Parsed p = parse(std::string_view(stream).substr(0, length));
    ASSERT_EQ(p.result.status, ParseStatus::Complete) << "length " << length;
    ASSERT_EQ(p.result.consumed, kChromeRequest.size());
    ASSERT_EQ(p.request->header_count, 12u);
  }
  EXPECT_EQ(stream.substr(kChromeRequest.size()), frames);  // trailing frame bytes untouched
}

TEST(HttpRequest, HeaderBytesLimitAppliesWhileIncomplete) {
  RequestLimits limits;
  limits.max_header_bytes = 64;
  std::string dribble = "GET / HTTP/1.1\r\nX-Long: ";
  while (dribble.size() < 63) dribble += 'a';
  EXPECT_EQ(parse(dribble, limits).result.status, ParseStatus::NeedMore);
  dribble += 'a';  // 64 bytes and no end of head: the head is certainly longer than the limit
  const Parsed p = parse(dribble, limits);
  ASSERT_EQ(p.result.status, ParseStatus::Error);
  EXPECT_EQ(p.result.http_status, 431);
  EXPECT_NE(p.result.error, nullptr);
  // Still 431 however much more arrives.
  EXPECT_EQ(parse(dribble + std::string(10000, 'a'), limits).result.http_status, 431);
}

TEST(HttpRequest, HeadExactlyAtByteLimitIsAccepted) {
  const std::string request = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  RequestLimits limits;
  limits.max_header_bytes = request.size();
  EXPECT_EQ(parse(request + "frame", limits).result.status, ParseStatus::Complete);
  limits.max_header_bytes = request.size() - 1;
  EXPECT_EQ(parse(request, limits).result.http_status, 431);
}

TEST(HttpRequest, HeaderCountLimitAppliesWhileIncomplete) {
  RequestLimits limits;
  limits.max_headers = 3;
  const std::string three = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n";
  EXPECT_EQ(parse(three + "\r\n", limits).result.status, ParseStatus::Complete);
  EXPECT_EQ(parse(three, limits).result.status, ParseStatus::NeedMore);
  const Parsed p = parse(three + "D", limits);  // a fourth header starts: certain to exceed
  ASSERT_EQ(p.result.status, ParseStatus::Error);
  EXPECT_EQ(p.result.http_status, 431);
}

TEST(HttpRequest, MaxHeadersIsClampedToCapacity) {
  RequestLimits limits;
  limits.max_headers = 100000;
  limits.max_header_bytes = 1 << 20;
  std::string request = "GET / HTTP/1.1\r\n";
  for (size_t i = 0; i < kMaxHeaderCapacity; ++i) request += "X: y\r\n";
  EXPECT_EQ(parse(request + "\r\n", limits).result.status, ParseStatus::Complete);
  EXPECT_EQ(parse(request + "X: y\r\n\r\n", limits).result.http_status, 431);
}

struct BadRequestCase {
  const char* name;
  std::string input;
  int http_status;
};

class HttpRequestErrors : public testing::TestWithParam<BadRequestCase> {};

TEST_P(HttpRequestErrors, RejectsWithStatus) {
  const BadRequestCase& c = GetParam();
  const Parsed p = parse(c.input);
  ASSERT_EQ(p.result.status, ParseStatus::Error) << c.name;
  EXPECT_EQ(p.result.http_status, c.http_status) << c.name;
  ASSERT_NE(p.result.error, nullptr);
  EXPECT_NE(std::string(p.result.error), "");
}

INSTANTIATE_TEST_SUITE_P(
    Table, HttpRequestErrors,
    testing::Values(
        BadRequestCase{"NoSpaces", "GARBAGE\r\n\r\n", 400},
        BadRequestCase{"OnlyMethodAndTarget", "GET /\r\n\r\n", 400},
        BadRequestCase{"DoubleSpace", "GET  / HTTP/1.1\r\n\r\n", 400},
        BadRequestCase{"TrailingSpace", "GET / HTTP/1.1 \r\n\r\n", 400},
        BadRequestCase{"EmptyMethod", " / HTTP/1.1\r\n\r\n", 400},
        BadRequestCase{"MethodNotToken", "G(T / HTTP/1.1\r\n\r\n", 400},
        BadRequestCase{"LowercaseHttp", "GET / http/1.1\r\n\r\n", 400},
        BadRequestCase{"VersionTwoDigits", "GET / HTTP/1.10\r\n\r\n", 400},
        BadRequestCase{"VersionNoDot", "GET / HTTP/11\r\n\r\n", 400},
        BadRequestCase{"EightBitTarget", "GET /\xc3\xa9 HTTP/1.1\r\n\r\n", 400},
        BadRequestCase{"Http2", "GET / HTTP/2.0\r\n\r\n", 505},
        BadRequestCase{"Http0", "GET / HTTP/0.9\r\n\r\n", 505},
        BadRequestCase{"Http10", "GET / HTTP/1.0\r\nHost: a\r\n\r\n", 505},
        BadRequestCase{"Http19", "GET / HTTP/1.9\r\nHost: a\r\n\r\n", 505},
        BadRequestCase{"Http3", "GET / HTTP/3.0\r\n\r\n", 505},
        BadRequestCase{"Http2Preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505},
        BadRequestCase{"AsteriskOnGet", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        BadRequestCase{"AsteriskOnPost", "POST * HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        BadRequestCase{"RelativeTarget", "GET chat HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        BadRequestCase{"AuthorityFormOnGet", "GET example.com:80 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        BadRequestCase{"SchemeWithoutSlashes", "GET http:/x HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        BadRequestCase{"SchemeStartsWithDigit", "GET 1http://x/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        BadRequestCase{"BareLfRequestLine", "GET / HTTP/1.1\nHost: a\r\n\r\n", 400},
        BadRequestCase{"BareLfHeader", "GET / HTTP/1.1\r\nHost: a\n\r\n", 400},
        BadRequestCase{"BareLfEnd", "GET / HTTP/1.1\r\nHost: a\r\n\n", 400},
        BadRequestCase{"BareCr", "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400},
        BadRequestCase{"NulInValue", std::string("GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n", 29), 400},
        BadRequestCase{"DelInValue", "GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n", 400},
        BadRequestCase{"SpaceBeforeColon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},
        BadRequestCase{"TabBeforeColon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400},
        BadRequestCase{"NoColon", "GET / HTTP/1.1\r\nHost a\r\n\r\n", 400},
        BadRequestCase{"EmptyName", "GET / HTTP/1.1\r\n: a\r\n\r\n", 400},
        BadRequestCase{"NameNotToken", "GET / HTTP/1.1\r\nHo(st: a\r\n\r\n", 400},
        BadRequestCase{"ObsFold", "GET / HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n", 400},
        BadRequestCase{"ObsFoldTab", "GET / HTTP/1.1\r\nX-A: a\r\n\tb\r\n\r\n", 400},
        BadRequestCase{"WhitespaceBeforeFirstHeader", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400},
        BadRequestCase{"LeadingEmptyLine", "\r\nGET / HTTP/1.1\r\n\r\n", 400}),
    [](const testing::TestParamInfo<BadRequestCase>& info) { return info.param.name; });

TEST(HttpRequest, ErrorTextsSayWhatIsWrong) {
  const auto error_of = [](std::string_view input) {
    const Parsed p = parse(input);
    return std::string(p.result.error ? p.result.error : "");
  };
  EXPECT_NE(error_of("GET / HTTP/1.1\r\nHost : a\r\n\r\n").find("before colon"), std::string::npos);
  EXPECT_NE(error_of("GET / HTTP/1.1\r\nHost a\r\n\r\n").find("without colon"), std::string::npos);
  EXPECT_NE(error_of("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n").find("folding"), std::string::npos);
  EXPECT_NE(error_of("GET / HTTP/1.1\nHost: a\n\n").find("bare LF"), std::string::npos);
  EXPECT_NE(error_of("GET / HTTP/2.0\r\n\r\n").find("version"), std::string::npos);
  RequestLimits limits;
  limits.max_header_bytes = 16;
  EXPECT_NE(std::string(parse("GET / HTTP/1.1\r\nHost: a", limits).result.error).find("too large"),
            std::string::npos);
}

TEST(HttpRequest, VersionAndTargetErrorsSayWhatIsWrong) {
  const auto error_of = [](std::string_view input) {
    const Parsed p = parse(input);
    return std::string(p.result.error ? p.result.error : "");
  };
  EXPECT_EQ(error_of("GET / HTTP/1.9\r\n\r\n"), "HTTP version not supported: this server speaks HTTP/1.1 only");
  EXPECT_EQ(error_of("GET / HTTP/1.0\r\n\r\n"), "HTTP version not supported: this server speaks HTTP/1.1 only");
  EXPECT_EQ(error_of("GET * HTTP/1.1\r\n\r\n"), "request target '*' is only allowed with OPTIONS");
  EXPECT_EQ(error_of("GET x HTTP/1.1\r\n\r\n"), "request target must be a path starting with '/' or an absolute URI");
  // The version is judged before the target.
  EXPECT_EQ(parse("GET * HTTP/1.0\r\n\r\n").result.http_status, 505);
}

TEST(HttpRequest, Http10OnlyWhenTheCallerAcceptsIt) {
  RequestLimits limits;
  limits.accept_http10 = true;
  const Parsed p = parse("GET /readyz HTTP/1.0\r\n\r\n", limits);
  EXPECT_EQ(p.result.status, ParseStatus::Complete);
  EXPECT_EQ(p.request->version, "HTTP/1.0");
  EXPECT_EQ(p.request->target, "/readyz");
  // Other versions stay refused.
  EXPECT_EQ(parse("GET / HTTP/1.9\r\n\r\n", limits).result.http_status, 505);
  EXPECT_EQ(parse("GET / HTTP/0.9\r\n\r\n", limits).result.http_status, 505);
  EXPECT_EQ(parse("GET / HTTP/1.0\r\n\r\n").result.http_status, 505);
}

TEST(HttpRequest, TargetFormsEachMethodMayUse) {
  for (const char* line : {"OPTIONS * HTTP/1.1", "GET / HTTP/1.1", "GET /a?b HTTP/1.1", "GET http://h/p HTTP/1.1",
                           "GET ws://h:1/ HTTP/1.1", "GET svn+ssh://h/ HTTP/1.1", "CONNECT h:443 HTTP/1.1",
                           "GET /* HTTP/1.1"}) {
    const Parsed p = parse(std::string(line) + "\r\nHost: h\r\n\r\n");
    EXPECT_EQ(p.result.status, ParseStatus::Complete) << line << ": " << (p.result.error ? p.result.error : "");
  }
}

TEST(HttpRequest, HttpTokens) {
  EXPECT_TRUE(is_http_token("GET"));
  EXPECT_TRUE(is_http_token("chat.v2"));
  EXPECT_TRUE(is_http_token("!#$%&'*+-.^_`|~09azAZ"));
  for (const char* bad : {"", "a b", "a,b", "a/b", "a:b", "a;b", "a=b", "(a)", "\"a\"", "a\tb", "caf\xc3\xa9", "a\x7f"})
    EXPECT_FALSE(is_http_token(bad)) << bad;
}

TEST(HttpRequest, ValidHosts) {
  for (const char* host : {"example.com", "example.com:8080", "EXAMPLE.com:1", "localhost", "127.0.0.1", "127.0.0.1:9001",
                           "a", "xn--bcher-kva.example", "under_score.example", "sub~delims!$&'()*+,;=",
                           "pct%20encoded", "[::1]", "[::1]:9001", "[::]", "[2001:db8::1]:443",
                           "[1:2:3:4:5:6:7:8]", "[1:2:3:4:5:6:7::]", "[::ffff:192.0.2.1]", "[1:2:3:4:5:6:1.2.3.4]",
                           "[fe80::]", "[v1.fe80::a+en1]", "h:0", "h:65535", "256.1.1.1"}) {
    EXPECT_TRUE(is_valid_host(host)) << host;
  }
}

TEST(HttpRequest, InvalidHosts) {
  for (const char* host : {"", "a b c", "a b", " a", "a ", "a\tb", ":80", "h:", "h:65536", "h:123456", "h:8x", "h:-1",
                           "h:1:2", "a/b", "a@b", "a?b", "a#b", "caf\xc3\xa9", "pct%2", "pct%zz", "a\"b", "a<b",
                           "[::1", "::1", "[::1]x", "[::1]:", "[]", "[:]", "[:::]", "[1::2::3]", "[12345::]",
                           "[1:2:3:4:5:6:7:8:9]", "[1:2:3:4:5:6:7]", "[1:2:3:4:5:6:7:8::]", "[g::1]", "[::1%25eth0]",
                           "[::ffff:1.2.3]", "[::ffff:1.2.3.256]", "[::ffff:01.2.3.4]", "[1.2.3.4]", "[v1.]", "[v.x]",
                           "[vx.y]", "[1:]", "[:1]"}) {
    EXPECT_FALSE(is_valid_host(host)) << host;
  }
}

TEST(HttpRequest, ErrorsAreFinalForEveryLongerInput) {
  // Once a prefix is an error, appending bytes must not change the verdict.
  const std::string bad = "GET / HTTP/1.1\r\nHost : a\r\n";
  const Parsed first = parse(bad);
  ASSERT_EQ(first.result.status, ParseStatus::Error);
  for (const std::string tail : {"", "\r\n", "X: y\r\n\r\n", "zzzz"}) {
    const Parsed later = parse(bad + tail);
    EXPECT_EQ(later.result.status, ParseStatus::Error);
    EXPECT_EQ(later.result.http_status, first.result.http_status);
  }
}

TEST(HttpRequest, CrAtEndOfInputWaitsForLf) {
  EXPECT_EQ(parse("GET / HTTP/1.1\r").result.status, ParseStatus::NeedMore);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\n\r").result.status, ParseStatus::NeedMore);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r").result.status, ParseStatus::NeedMore);
}

TEST(HttpRequest, ObsTextAllowedInValues) {
  const Parsed p = parse("GET / HTTP/1.1\r\nX-Name: caf\xc3\xa9\r\n\r\n");
  ASSERT_EQ(p.result.status, ParseStatus::Complete);
  EXPECT_EQ(find_header(p.request->header_list(), "x-name"), "caf\xc3\xa9");
}

TEST(HttpRequest, TokenListsAreCombinedCaseInsensitively) {
  const Parsed p = parse(
      "GET / HTTP/1.1\r\n"
      "Connection: keep-alive, Upgrade\r\n"
      "connection: close\r\n"
      "X-Empty-Items: ,, a ,\t b\t,\r\n"
      "Upgrade: WebSocket\r\n"
      "\r\n");
  ASSERT_EQ(p.result.status, ParseStatus::Complete);
  const std::span<const HttpHeader> h = p.request->header_list();
  EXPECT_EQ(count_headers(h, "Connection"), 2u);
  EXPECT_TRUE(headers_have_token(h, "Connection", "upgrade"));
  EXPECT_TRUE(headers_have_token(h, "CONNECTION", "Keep-Alive"));
  EXPECT_TRUE(headers_have_token(h, "Connection", "close"));  // from the second instance
  EXPECT_FALSE(headers_have_token(h, "Connection", "keep"));  // whole tokens only
  EXPECT_FALSE(headers_have_token(h, "Connection", "keep-alive, Upgrade"));
  EXPECT_TRUE(headers_have_token(h, "Upgrade", "websocket"));
  EXPECT_TRUE(headers_have_token(h, "X-Empty-Items", "a"));
  EXPECT_TRUE(headers_have_token(h, "X-Empty-Items", "b"));
  EXPECT_FALSE(headers_have_token(h, "Missing", "a"));
}

TEST(HttpRequest, AsciiIequalsFoldsOnlyLetters) {
  EXPECT_TRUE(ascii_iequals("Sec-WebSocket-Key", "sec-websocket-key"));
  EXPECT_FALSE(ascii_iequals("abc", "abcd"));
  EXPECT_FALSE(ascii_iequals("@", "`"));  // 0x40 vs 0x60 differ by the case bit but are not letters
  EXPECT_FALSE(ascii_iequals("[", "{"));
  EXPECT_TRUE(ascii_iequals("", ""));
}

TEST(HttpRequest, NextHeadLineReportsEachOutcome) {
  EXPECT_EQ(next_head_line("abc", 0).status, ParseStatus::NeedMore);
  const HeadLine line = next_head_line("xx abc def\r\nrest", 3);
  ASSERT_EQ(line.status, ParseStatus::Complete);
  EXPECT_EQ(line.text, "abc def");
  EXPECT_EQ(line.next, 12u);
  EXPECT_EQ(next_head_line("abc\ndef", 0).status, ParseStatus::Error);
  // A long line exercises the vector scan including a control byte past the first 16 bytes.
  const std::string long_line = std::string(40, 'a') + '\x01' + "\r\n";
  EXPECT_EQ(next_head_line(long_line, 0).status, ParseStatus::Error);
  const std::string long_ok = std::string(40, 'a') + "\t" + std::string(20, 'b') + "\r\n";
  EXPECT_EQ(next_head_line(long_ok, 0).text.size(), 61u);
}

TEST(HttpRequest, ParseHeaderFieldsWorksForResponseHeads) {
  const std::string head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\nframe";
  HttpHeader storage[4];
  size_t count = 99;
  const ParseResult r = parse_header_fields(head, 34, storage, count);
  ASSERT_EQ(r.status, ParseStatus::Complete);
  EXPECT_EQ(r.consumed, head.size() - 5);
  EXPECT_EQ(count, 1u);
  EXPECT_EQ(find_header(std::span<const HttpHeader>(storage, count), "upgrade"), "websocket");
}

}  // namespace
}  // namespace wsring::core
