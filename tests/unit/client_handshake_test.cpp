#include "core/client_handshake.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <memory>
#include <set>
#include <string>

#include "core/handshake.hpp"

namespace wsring::core {
namespace {

constexpr std::string_view kRfcKey = "dGhlIHNhbXBsZSBub25jZQ==";

bool is_base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

TEST(ClientHandshake, GeneratedKeysAreBase64Of16RandomBytes) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    char key[kClientKeySize];
    generate_client_key(key);
    const std::string text(key, kClientKeySize);
    for (size_t j = 0; j < 22; ++j) ASSERT_TRUE(is_base64_char(text[j])) << text;
    EXPECT_EQ(text.substr(22), "==");
    seen.insert(text);
  }
  EXPECT_EQ(seen.size(), 100u);  // 128-bit nonces never repeat in practice
}

TEST(ClientHandshake, RequestLayout) {
  const std::array<std::string_view, 2> protocols = {"chat", "superchat"};
  const std::array<HttpHeader, 1> extra = {HttpHeader{"Authorization", "Bearer x"}};
  ClientRequestOptions options;
  options.host = "localhost:9001";
  options.path = "/echo?x=1";
  options.subprotocols = protocols;
  options.extra_headers = extra;
  options.origin = "http://localhost:9001";
  char buffer[512];
  const size_t size = write_client_request(buffer, kRfcKey, options);
  EXPECT_EQ(std::string_view(buffer, size),
            "GET /echo?x=1 HTTP/1.1\r\n"
            "Host: localhost:9001\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n"
            "Origin: http://localhost:9001\r\n"
            "Sec-WebSocket-Protocol: chat, superchat\r\n"
            "Authorization: Bearer x\r\n"
            "\r\n");
  for (size_t small = 0; small < size; ++small) {
    ASSERT_EQ(write_client_request(std::span<char>(buffer, small), kRfcKey, options), 0u);
  }
}

TEST(ClientHandshake, RequestRejectsUnsafePathAndNeutralisesHeaders) {
  char buffer[512];
  ClientRequestOptions options;
  options.host = "h\r\nX-Injected: 1";
  options.path = "";
  const size_t size = write_client_request(buffer, kRfcKey, options);
  const std::string_view request(buffer, size);
  EXPECT_EQ(request.rfind("GET / HTTP/1.1\r\nHost: h  X-Injected: 1\r\n", 0), 0u);
  for (const char* path : {"/a b", "/a\r\nX: y", "/\t"}) {
    options.path = path;
    EXPECT_EQ(write_client_request(buffer, kRfcKey, options), 0u) << path;
  }
}

// The full exchange: client request -> server parse/validate/answer -> client check.
struct Exchange {
  std::string request;
  std::string response;
  std::unique_ptr<UpgradeRequest> parsed = std::make_unique<UpgradeRequest>();
  HandshakeDecision decision;
};

std::unique_ptr<Exchange> run_exchange(std::string_view key, std::span<const std::string_view> offered,
                                       std::span<const std::string_view> server_protocols) {
  auto exchange = std::make_unique<Exchange>();
  ClientRequestOptions options;
  options.host = "127.0.0.1:9001";
  options.path = "/ws";
  options.subprotocols = offered;
  options.origin = "http://127.0.0.1:9001";
  char buffer[1024];
  exchange->request.assign(buffer, write_client_request(buffer, key, options));
  EXPECT_FALSE(exchange->request.empty());

  const ParseResult parsed = parse_upgrade_request(exchange->request, RequestLimits{}, *exchange->parsed);
  EXPECT_EQ(parsed.status, ParseStatus::Complete);
  EXPECT_EQ(parsed.consumed, exchange->request.size());
  HandshakePolicy policy;
  policy.path = "/ws";
  policy.subprotocols = server_protocols;
  exchange->decision = validate_upgrade(*exchange->parsed, policy);
  EXPECT_EQ(exchange->decision.status, 101) << exchange->decision.reason;
  exchange->response.assign(
      buffer, write_upgrade_response(buffer, exchange->decision.key, exchange->decision.subprotocol));
  EXPECT_FALSE(exchange->response.empty());
  return exchange;
}

TEST(ClientHandshake, ClientAndServerAgree) {
  char key[kClientKeySize];
  generate_client_key(key);
  const std::string_view key_view(key, kClientKeySize);
  const std::array<std::string_view, 2> offered = {"chat", "superchat"};
  const std::array<std::string_view, 1> server = {"superchat"};
  const auto exchange = run_exchange(key_view, offered, server);
  const std::string frames = "\x82\x00";
  const std::string stream = exchange->response + frames;
  const ClientHandshakeResult result = validate_upgrade_response(stream, key_view, offered);
  EXPECT_EQ(result.error, ClientHandshakeError::None) << to_string(result.error);
  EXPECT_EQ(result.status, 101);
  EXPECT_EQ(result.consumed, exchange->response.size());
  EXPECT_EQ(result.subprotocol, "superchat");
}

TEST(ClientHandshake, EverySplitPointNeedsMoreUntilComplete) {
  const auto exchange = run_exchange(kRfcKey, {}, {});
  const std::string& response = exchange->response;
  for (size_t length = 0; length < response.size(); ++length) {
    const ClientHandshakeResult result = validate_upgrade_response(response.substr(0, length), kRfcKey, {});
    ASSERT_EQ(result.error, ClientHandshakeError::NeedMore) << length;
  }
  EXPECT_EQ(validate_upgrade_response(response, kRfcKey, {}).error, ClientHandshakeError::None);
}

std::string accepted_response(std::string_view extra_lines) {
  return std::string(
             "HTTP/1.1 101 Switching Protocols\r\n"
             "Upgrade: websocket\r\n"
             "Connection: Upgrade\r\n"
             "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") +
         std::string(extra_lines) + "\r\n";
}

struct ResponseCase {
  const char* name;
  std::string response;
  ClientHandshakeError error;
};

class ClientHandshakeErrors : public testing::TestWithParam<ResponseCase> {};

TEST_P(ClientHandshakeErrors, DetectsEachTampering) {
  const ResponseCase& c = GetParam();
  const std::array<std::string_view, 2> offered = {"chat", "superchat"};
  const ClientHandshakeResult result = validate_upgrade_response(c.response, kRfcKey, offered);
  EXPECT_EQ(result.error, c.error) << to_string(result.error);
  EXPECT_STRNE(to_string(result.error), "");
}

INSTANTIATE_TEST_SUITE_P(
    Table, ClientHandshakeErrors,
    testing::Values(
        ResponseCase{"Accepted", accepted_response(""), ClientHandshakeError::None},
        ResponseCase{"AcceptedWithProtocol", accepted_response("Sec-WebSocket-Protocol: chat\r\n"),
                     ClientHandshakeError::None},
        ResponseCase{"MixedCaseTokens",
                     "HTTP/1.1 101 OK\r\nupgrade: WebSocket\r\nconnection: keep-alive, UPGRADE\r\n"
                     "sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
                     ClientHandshakeError::None},
        ResponseCase{"NoReasonPhrase",
                     "HTTP/1.1 101\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
                     ClientHandshakeError::None},
        ResponseCase{"Garbage", "garbage\r\n\r\n", ClientHandshakeError::Malformed},
        ResponseCase{"Http10", "HTTP/1.0 101 Switching Protocols\r\n\r\n", ClientHandshakeError::Malformed},
        ResponseCase{"ShortStatus", "HTTP/1.1 10 x\r\n\r\n", ClientHandshakeError::Malformed},
        ResponseCase{"BareLf", "HTTP/1.1 101 Switching Protocols\n\n", ClientHandshakeError::Malformed},
        ResponseCase{"BadHeaderLine", "HTTP/1.1 101 Switching Protocols\r\nUpgrade websocket\r\n\r\n",
                     ClientHandshakeError::Malformed},
        ResponseCase{"Forbidden", "HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\n\r\nnope\n",
                     ClientHandshakeError::BadStatus},
        ResponseCase{"MissingUpgrade",
                     "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
                     ClientHandshakeError::MissingUpgrade},
        ResponseCase{"MissingConnection",
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
                     ClientHandshakeError::MissingConnection},
        ResponseCase{"MissingAccept",
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
                     ClientHandshakeError::BadAccept},
        ResponseCase{"WrongAccept",
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo+\r\n\r\n",
                     ClientHandshakeError::BadAccept},
        ResponseCase{"RepeatedAccept", accepted_response("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
                     ClientHandshakeError::BadAccept},
        ResponseCase{"UnofferedProtocol", accepted_response("Sec-WebSocket-Protocol: mqtt\r\n"),
                     ClientHandshakeError::UnofferedSubprotocol},
        ResponseCase{"ProtocolList", accepted_response("Sec-WebSocket-Protocol: chat, superchat\r\n"),
                     ClientHandshakeError::UnofferedSubprotocol},
        ResponseCase{"ProtocolCase", accepted_response("Sec-WebSocket-Protocol: Chat\r\n"),
                     ClientHandshakeError::UnofferedSubprotocol},
        ResponseCase{"TwoProtocols",
                     accepted_response("Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: chat\r\n"),
                     ClientHandshakeError::UnofferedSubprotocol},
        ResponseCase{"Extension", accepted_response("Sec-WebSocket-Extensions: permessage-deflate\r\n"),
                     ClientHandshakeError::UnrequestedExtension}),
    [](const testing::TestParamInfo<ResponseCase>& info) { return info.param.name; });

TEST(ClientHandshake, BadStatusKeepsTheStartOfTheBody) {
  const std::string body(1000, 'b');
  const std::string response = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 1000\r\n\r\n" + body;
  const ClientHandshakeResult result = validate_upgrade_response(response, kRfcKey, {});
  EXPECT_EQ(result.error, ClientHandshakeError::BadStatus);
  EXPECT_EQ(result.status, 503);
  EXPECT_EQ(result.consumed, response.size() - body.size());
  EXPECT_EQ(result.body_start, std::string(256, 'b'));
}

TEST(ClientHandshake, TooLargeWhileIncomplete) {
  std::string response = "HTTP/1.1 101 Switching Protocols\r\nX-Pad: ";
  response += std::string(200, 'p');
  EXPECT_EQ(validate_upgrade_response(response, kRfcKey, {}, 256).error, ClientHandshakeError::NeedMore);
  response += std::string(100, 'p');
  EXPECT_EQ(validate_upgrade_response(response, kRfcKey, {}, 256).error, ClientHandshakeError::TooLarge);
  std::string many = "HTTP/1.1 101 Switching Protocols\r\n";
  for (int i = 0; i < 65; ++i) many += "X: y\r\n";
  EXPECT_EQ(validate_upgrade_response(many + "\r\n", kRfcKey, {}).error, ClientHandshakeError::TooLarge);
}

TEST(ClientHandshake, MaskKeysAreNotRepetitive) {
  MaskKeySource source;
  std::set<uint32_t> seen;
  for (int i = 0; i < 5000; ++i) {  // crosses a 4 KiB refill (1024 keys per block)
    uint8_t key[4];
    source.next(key);
    uint32_t value;
    std::memcpy(&value, key, 4);
    seen.insert(value);
  }
  // 5000 draws from 2^32 values: a few collisions at most for a real random source.
  EXPECT_GT(seen.size(), 4990u);
}

}  // namespace
}  // namespace wsring::core
