#include "core/handshake.hpp"

#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

namespace wsring::core {
namespace {

constexpr std::string_view kRfcKey = "dGhlIHNhbXBsZSBub25jZQ==";
constexpr std::string_view kRfcAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

// A valid request as lines without CRLF, so tests can drop or replace single headers.
std::vector<std::string> valid_lines() {
  return {"GET /chat HTTP/1.1",
          "Host: server.example.com",
          "Upgrade: websocket",
          "Connection: Upgrade",
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
          "Origin: http://server.example.com",
          "Sec-WebSocket-Protocol: chat, superchat",
          "Sec-WebSocket-Version: 13"};
}

std::string join(const std::vector<std::string>& lines) {
  std::string head;
  for (const std::string& line : lines) head += line + "\r\n";
  return head + "\r\n";
}

// Owns the text the request views point into.
struct Request {
  std::string text;
  std::unique_ptr<UpgradeRequest> parsed = std::make_unique<UpgradeRequest>();
};

std::unique_ptr<Request> parse(std::string text) {
  auto request = std::make_unique<Request>();
  request->text = std::move(text);
  const ParseResult result = parse_upgrade_request(request->text, RequestLimits{}, *request->parsed);
  EXPECT_EQ(result.status, ParseStatus::Complete) << request->text;
  return request;
}

// Replaces the line starting with `prefix` (the request line if prefix is "GET ") by
// `replacement`; an empty replacement removes it; no match appends it.
std::vector<std::string> with(std::string_view prefix, const std::string& replacement) {
  std::vector<std::string> lines = valid_lines();
  for (auto it = lines.begin(); it != lines.end(); ++it) {
    if (it->rfind(prefix, 0) == 0) {
      if (replacement.empty()) {
        lines.erase(it);
      } else {
        *it = replacement;
      }
      return lines;
    }
  }
  lines.push_back(replacement);
  return lines;
}

const std::array<std::string_view, 2> kServerProtocols = {"superchat", "chat"};
const std::array<std::string_view, 1> kAllowedOrigins = {"https://Trusted.example:8443"};

HandshakePolicy default_policy() {
  HandshakePolicy policy;
  policy.path = "/chat";
  policy.subprotocols = kServerProtocols;
  policy.allowed_origins = kAllowedOrigins;
  return policy;
}

TEST(Handshake, RfcAcceptKeyVector) {
  char accept[kAcceptKeySize];
  compute_accept_key(kRfcKey, accept);
  EXPECT_EQ(std::string_view(accept, kAcceptKeySize), kRfcAccept);
  compute_accept_key("x3JJHMbDL1EzLkh9GBhXDw==", accept);  // second published example
  EXPECT_EQ(std::string_view(accept, kAcceptKeySize), "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
}

TEST(Handshake, ValidRequestIsAccepted) {
  const auto request = parse(join(valid_lines()));
  const HandshakeDecision decision = validate_upgrade(*request->parsed, default_policy());
  EXPECT_EQ(decision.status, 101) << decision.reason;
  EXPECT_EQ(decision.key, kRfcKey);
  EXPECT_EQ(decision.subprotocol, "superchat");  // server preference wins over client order
  EXPECT_FALSE(decision.plain_http);
}

struct StatusCase {
  const char* name;
  std::vector<std::string> lines;
  int status;
  const char* reason_mentions;  // the header at fault, found in the reason text
  bool plain_http = false;
  bool version_mismatch = false;
};

class HandshakeStatus : public testing::TestWithParam<StatusCase> {};

TEST_P(HandshakeStatus, AnswersTheRightStatus) {
  const StatusCase& c = GetParam();
  const auto request = parse(join(c.lines));
  const HandshakeDecision decision = validate_upgrade(*request->parsed, default_policy());
  EXPECT_EQ(decision.status, c.status);
  ASSERT_NE(decision.reason, nullptr);
  EXPECT_NE(std::string(decision.reason).find(c.reason_mentions), std::string::npos) << decision.reason;
  EXPECT_EQ(decision.plain_http, c.plain_http);
  EXPECT_EQ(decision.version_mismatch, c.version_mismatch);
}

INSTANTIATE_TEST_SUITE_P(
    Table, HandshakeStatus,
    testing::Values(
        StatusCase{"Post", with("GET ", "POST /chat HTTP/1.1"), 405, "GET"},
        StatusCase{"LowercaseGet", with("GET ", "get /chat HTTP/1.1"), 405, "GET"},
        StatusCase{"WrongPath", with("GET ", "GET /other HTTP/1.1"), 404, "path"},
        StatusCase{"PathPrefixOnly", with("GET ", "GET /chatroom HTTP/1.1"), 404, "path"},
        StatusCase{"MissingHost", with("Host:", ""), 400, "Host"},
        StatusCase{"EmptyHost", with("Host:", "Host:"), 400, "Host"},
        StatusCase{"RepeatedHost", with("X-Extra", "Host: server.example.com"), 400, "Host"},
        StatusCase{"HostWithSpaces", with("Host:", "Host: a b c"), 400, "Host"},
        StatusCase{"HostWithPath", with("Host:", "Host: server.example.com/chat"), 400, "Host"},
        StatusCase{"HostBadPort", with("Host:", "Host: server.example.com:99999"), 400, "Host"},
        StatusCase{"HostUnclosedIpv6", with("Host:", "Host: [::1"), 400, "Host"},
        StatusCase{"ContentLength", with("X-", "Content-Length: 5"), 400, "Content-Length"},
        StatusCase{"TransferEncoding", with("X-", "Transfer-Encoding: chunked"), 400, "Transfer-Encoding"},
        StatusCase{"MissingUpgrade", with("Upgrade:", ""), 426, "Upgrade"},
        StatusCase{"UpgradeWrongToken", with("Upgrade:", "Upgrade: h2c"), 426, "Upgrade"},
        StatusCase{"MissingConnection", with("Connection:", ""), 426, "Connection"},
        StatusCase{"ConnectionKeepAliveOnly", with("Connection:", "Connection: keep-alive"), 426, "Connection"},
        StatusCase{"PlainGet",
                   {"GET /chat HTTP/1.1", "Host: server.example.com", "Accept: text/html"},
                   426, "Upgrade", /*plain_http=*/true},
        StatusCase{"KeyWithoutUpgradeIsNotPlain",
                   {"GET /chat HTTP/1.1", "Host: h", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="},
                   426, "Upgrade", /*plain_http=*/false},
        StatusCase{"MissingVersion", with("Sec-WebSocket-Version:", ""), 426, "Sec-WebSocket-Version",
                   false, /*version_mismatch=*/true},
        StatusCase{"Version8", with("Sec-WebSocket-Version:", "Sec-WebSocket-Version: 8"), 426,
                   "Sec-WebSocket-Version", false, true},
        StatusCase{"RepeatedVersion", with("X-", "Sec-WebSocket-Version: 13"), 426,
                   "Sec-WebSocket-Version", false, true},
        StatusCase{"MissingKey", with("Sec-WebSocket-Key:", ""), 400, "Sec-WebSocket-Key"},
        StatusCase{"RepeatedKey", with("X-", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="), 400,
                   "Sec-WebSocket-Key"},
        StatusCase{"KeyTooShort", with("Sec-WebSocket-Key:", "Sec-WebSocket-Key: dGhlIHNhbXBsZQ=="), 400,
                   "Sec-WebSocket-Key"},
        StatusCase{"KeyNoPadding", with("Sec-WebSocket-Key:", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQAA"),
                   400, "Sec-WebSocket-Key"},
        StatusCase{"KeyBadChar", with("Sec-WebSocket-Key:", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub2*jZQ=="),
                   400, "Sec-WebSocket-Key"},
        StatusCase{"KeyDecodesTo17", with("Sec-WebSocket-Key:", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZSE="),
                   400, "Sec-WebSocket-Key"},
        StatusCase{"ForeignOrigin", with("Origin:", "Origin: http://evil.example"), 403, "Origin"},
        StatusCase{"OriginOtherPort", with("Origin:", "Origin: http://server.example.com:8080"), 403,
                   "Origin"},
        StatusCase{"RepeatedOrigin", with("X-", "Origin: http://server.example.com"), 403, "Origin"},
        StatusCase{"NullOrigin", with("Origin:", "Origin: null"), 403, "Origin"}),
    [](const testing::TestParamInfo<StatusCase>& info) { return info.param.name; });

TEST(Handshake, ChecksRunInTheDocumentedOrder) {
  // Wrong method and everything else wrong too: the method decides.
  const auto request = parse(join({"PUT /nowhere HTTP/1.1", "X: y"}));
  EXPECT_EQ(validate_upgrade(*request->parsed, default_policy()).status, 405);
  const auto path = parse(join({"GET /nowhere HTTP/1.1", "Host: a b c"}));
  EXPECT_EQ(validate_upgrade(*path->parsed, default_policy()).status, 404);
  const auto host = parse(join({"GET /chat HTTP/1.1", "Host: a b c", "Content-Length: 3"}));
  EXPECT_EQ(std::string(validate_upgrade(*host->parsed, default_policy()).reason), "Host header is not a valid host[:port]");
  // Bad key and bad origin: the key (400) comes before the origin (403).
  std::vector<std::string> lines = valid_lines();
  for (std::string& line : lines) {
    if (line.rfind("Sec-WebSocket-Key:", 0) == 0) line = "Sec-WebSocket-Key: short";
    if (line.rfind("Origin:", 0) == 0) line = "Origin: http://evil.example";
  }
  EXPECT_EQ(validate_upgrade(*parse(join(lines))->parsed, default_policy()).status, 400);
}

TEST(Handshake, PathMatchesIgnoringQueryAndAbsoluteForm) {
  for (const char* target : {"/chat", "/chat?x=1", "http://server.example.com/chat?y",
                             "ws://server.example.com:80/chat"}) {
    const auto request = parse(join(with("GET ", std::string("GET ") + target + " HTTP/1.1")));
    EXPECT_EQ(validate_upgrade(*request->parsed, default_policy()).status, 101) << target;
  }
  HandshakePolicy any = default_policy();
  any.path = "";
  const auto request = parse(join(with("GET ", "GET /anything/at/all HTTP/1.1")));
  EXPECT_EQ(validate_upgrade(*request->parsed, any).status, 101);
}

TEST(Handshake, AnyOriginByDefault) {
  // An echo server holds no credentials: cross-site pages may connect unless --allow-origin is given.
  HandshakePolicy policy = default_policy();
  policy.allowed_origins = {};
  for (const char* origin : {"", "Origin: http://evil.example", "Origin: null", "Origin: https://server.example.com:1",
                             "Origin: file://"}) {
    const auto request = parse(join(with("Origin:", origin)));
    EXPECT_EQ(validate_upgrade(*request->parsed, policy).status, 101) << origin;
  }
  // A repeated Origin is still refused: which one would count?
  EXPECT_EQ(validate_upgrade(*parse(join(with("X-", "Origin: http://server.example.com")))->parsed, policy).status, 403);
  EXPECT_EQ(validate_upgrade(*parse(join(valid_lines()))->parsed, HandshakePolicy{}).status, 101);
}

TEST(Handshake, RefusedOriginNamesTheFlag) {
  const auto request = parse(join(with("Origin:", "Origin: http://evil.example")));
  const HandshakeDecision decision = validate_upgrade(*request->parsed, default_policy());
  EXPECT_EQ(decision.status, 403);
  EXPECT_NE(std::string(decision.reason).find("--allow-origin"), std::string::npos) << decision.reason;
}

TEST(Handshake, OriginPolicy) {
  const auto check = [](const std::string& origin_line, HandshakePolicy policy) {
    return validate_upgrade(*parse(join(with("Origin:", origin_line)))->parsed, policy).status;
  };
  const HandshakePolicy policy = default_policy();
  EXPECT_EQ(check("", policy), 101);  // no Origin (non-browser client)
  EXPECT_EQ(check("Origin: https://SERVER.example.COM", policy), 101);  // same host, any case
  EXPECT_EQ(check("Origin: https://trusted.example:8443", policy), 101);  // listed
  EXPECT_EQ(check("Origin: https://trusted.example", policy), 403);  // listed with a port only
  EXPECT_EQ(check("Origin: http://server.example.com.evil.example", policy), 403);
  HandshakePolicy open = policy;
  const std::array<std::string_view, 1> star = {"*"};
  open.allowed_origins = star;
  EXPECT_EQ(check("Origin: http://anyone.example", open), 101);
}

TEST(Handshake, SubprotocolSelection) {
  const auto select = [](const std::vector<std::string>& offer_lines,
                         std::span<const std::string_view> server) {
    std::vector<std::string> lines = with("Sec-WebSocket-Protocol:", "");
    lines.insert(lines.end(), offer_lines.begin(), offer_lines.end());
    HandshakePolicy policy = default_policy();
    policy.subprotocols = server;
    const HandshakeDecision decision = validate_upgrade(*parse(join(lines))->parsed, policy);
    EXPECT_EQ(decision.status, 101);
    return std::string(decision.subprotocol);
  };
  const std::array<std::string_view, 3> server = {"v3", "v2", "v1"};
  EXPECT_EQ(select({"Sec-WebSocket-Protocol: v1, v2"}, server), "v2");
  EXPECT_EQ(select({"Sec-WebSocket-Protocol: v1", "Sec-WebSocket-Protocol: v3"}, server), "v3");
  EXPECT_EQ(select({"Sec-WebSocket-Protocol: x, y"}, server), "");   // no overlap
  EXPECT_EQ(select({}, server), "");                                  // nothing offered
  EXPECT_EQ(select({"Sec-WebSocket-Protocol: V3, v2x"}, server), "");  // names are case-sensitive, whole tokens
  EXPECT_EQ(select({"Sec-WebSocket-Protocol: v1"}, {}), "");           // server has none
}

TEST(Handshake, UpgradeResponseHasAcceptAndProtocol) {
  char buffer[512];
  const size_t size = write_upgrade_response(buffer, kRfcKey, "chat");
  ASSERT_GT(size, 0u);
  EXPECT_EQ(std::string_view(buffer, size),
            "HTTP/1.1 101 Switching Protocols\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
            "Sec-WebSocket-Protocol: chat\r\n"
            "\r\n");
  const size_t no_protocol = write_upgrade_response(buffer, kRfcKey, "");
  EXPECT_EQ(std::string_view(buffer, no_protocol).find("Sec-WebSocket-Protocol"), std::string_view::npos);
}

TEST(Handshake, UpgradeResponseReturnsZeroWhenItDoesNotFit) {
  char buffer[512];
  const size_t needed = write_upgrade_response(buffer, kRfcKey, "chat");
  ASSERT_GT(needed, 0u);
  for (size_t size = 0; size < needed; ++size) {
    EXPECT_EQ(write_upgrade_response(std::span<char>(buffer, size), kRfcKey, "chat"), 0u) << size;
  }
  EXPECT_EQ(write_upgrade_response(std::span<char>(buffer, needed), kRfcKey, "chat"), needed);
}

TEST(Handshake, ResponseSplittingIsNeutralised) {
  const std::array<HttpHeader, 2> extra = {
      HttpHeader{"X-Evil\r\nSet-Cookie", "a=b"},
      HttpHeader{"X-Value", std::string_view("ok\r\n\r\nHTTP/1.1 200 OK\0\x7f", 23)}};
  char buffer[512];
  const size_t size = write_upgrade_response(buffer, kRfcKey, "chat\r\nX-Injected: 1", extra);
  ASSERT_GT(size, 0u);
  const std::string_view response(buffer, size);
  // Exactly one blank line (the end of the head), and CRLF only where the writer put it.
  EXPECT_EQ(response.find("\r\n\r\n"), response.size() - 4);
  size_t lines = 0;
  for (size_t i = 0; i < response.size(); ++i) {
    if (response[i] == '\n') ++lines;
    if (response[i] == '\r') {
      EXPECT_EQ(response[i + 1], '\n');
    }
    EXPECT_FALSE(response[i] == '\0' || response[i] == '\x7f');
  }
  EXPECT_EQ(lines, 8u);  // status, Upgrade, Connection, Accept, Protocol, 2 extras, blank
  EXPECT_NE(response.find("X-Evil  Set-Cookie: a=b\r\n"), std::string_view::npos);
  EXPECT_NE(response.find("Sec-WebSocket-Protocol: chat  X-Injected: 1\r\n"), std::string_view::npos);
}

TEST(Handshake, ErrorResponsesCarryTheHeadersTheStatusNeeds) {
  char buffer[512];
  const auto write = [&](int status, bool version_mismatch) {
    const size_t size = write_error_response(buffer, status, "why", version_mismatch);
    EXPECT_GT(size, 0u);
    return std::string(buffer, size);
  };
  const std::string e405 = write(405, false);
  EXPECT_EQ(e405,
            "HTTP/1.1 405 Method Not Allowed\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 4\r\n"
            "Connection: close\r\n"
            "Allow: GET\r\n"
            "\r\n"
            "why\n");
  const std::string e426 = write(426, false);
  EXPECT_NE(e426.find("HTTP/1.1 426 Upgrade Required\r\n"), std::string::npos);
  EXPECT_NE(e426.find("Upgrade: websocket\r\n"), std::string::npos);
  EXPECT_EQ(e426.find("Sec-WebSocket-Version"), std::string::npos);
  EXPECT_NE(write(426, true).find("Sec-WebSocket-Version: 13\r\n"), std::string::npos);
  const std::string e400 = write(400, true);  // version_mismatch only matters for 426
  EXPECT_EQ(e400.find("Sec-WebSocket-Version"), std::string::npos);
  EXPECT_EQ(e400.find("Allow:"), std::string::npos);
  for (int status : {400, 403, 404, 431, 503, 505}) {
    const std::string response = write(status, false);
    EXPECT_EQ(response.rfind("HTTP/1.1 " + std::to_string(status) + " " + std::string(reason_phrase(status)) + "\r\n", 0),
              0u);
    EXPECT_NE(reason_phrase(status), "Unknown");
  }
  EXPECT_EQ(write(42, false).rfind("HTTP/1.1 500 Internal Server Error\r\n", 0), 0u);
  EXPECT_EQ(write_error_response(std::span<char>(buffer, 20), 400, "why"), 0u);
}

}  // namespace
}  // namespace wsring::core
