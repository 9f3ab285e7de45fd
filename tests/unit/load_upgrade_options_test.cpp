#include "bench/load/upgrade_options.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <fstream>
#include <string>

using namespace wsring::load;

TEST(UpgradeOptions, ParsesHeaders) {
  std::string name, value, error;
  ASSERT_TRUE(parse_header_option("X-Api-Key:  abc def ", name, value, error)) << error;
  EXPECT_EQ(name, "X-Api-Key");
  EXPECT_EQ(value, "abc def");
  ASSERT_TRUE(parse_header_option("Cookie:", name, value, error)) << error;
  EXPECT_EQ(value, "");
}

TEST(UpgradeOptions, RefusesHeadersTheClientOwns) {
  std::string name, value, error;
  for (const char* h : {"Host: x", "upgrade: websocket", "Connection: close", "sec-websocket-key: x",
                        "Sec-WebSocket-Version: 8", "Sec-WebSocket-Extensions: permessage-deflate",
                        "Sec-WebSocket-Protocol: chat", "Origin: http://x", "Content-Length: 3"}) {
    EXPECT_FALSE(parse_header_option(h, name, value, error)) << h;
    EXPECT_NE(error.find("written by wsring-load"), std::string::npos) << error;
  }
  EXPECT_FALSE(parse_header_option("Sec-WebSocket-Protocol: chat", name, value, error));
  EXPECT_NE(error.find("--subprotocol"), std::string::npos);
  EXPECT_FALSE(parse_header_option("Origin: x", name, value, error));
  EXPECT_NE(error.find("--origin"), std::string::npos);
}

TEST(UpgradeOptions, RefusesMalformedHeaders) {
  std::string name, value, error;
  EXPECT_FALSE(parse_header_option("NoColon", name, value, error));
  EXPECT_FALSE(parse_header_option(": value", name, value, error));
  EXPECT_FALSE(parse_header_option("Bad Name: v", name, value, error));
  EXPECT_FALSE(parse_header_option("X-A: a\r\nX-Injected: b", name, value, error));
  EXPECT_NE(error.find("control"), std::string::npos);
  EXPECT_EQ(error.find('\n'), std::string::npos);
}

TEST(UpgradeOptions, Tokens) {
  EXPECT_TRUE(is_http_token("chat.v2"));
  EXPECT_FALSE(is_http_token(""));
  EXPECT_FALSE(is_http_token("a b"));
  EXPECT_FALSE(is_http_token("a,b"));
}

TEST(UpgradeOptions, BearerTokenFromFileAndEnvironmentNeverInErrors) {
  const std::string path = testing::TempDir() + "wsring_token_test.txt";
  { std::ofstream(path) << "  s3cr3t-TOKEN\n"; }
  std::string token, error;
  ASSERT_TRUE(read_token_file(path, token, error)) << error;
  EXPECT_EQ(token, "s3cr3t-TOKEN");

  { std::ofstream(path) << "s3cr3t TOKEN\n"; }
  EXPECT_FALSE(read_token_file(path, token, error));
  EXPECT_EQ(error.find("s3cr3t"), std::string::npos) << error;
  { std::ofstream(path) << "\n"; }
  EXPECT_FALSE(read_token_file(path, token, error));
  EXPECT_NE(error.find("empty"), std::string::npos);
  std::remove(path.c_str());
  EXPECT_FALSE(read_token_file(path, token, error));
  EXPECT_NE(error.find("cannot read"), std::string::npos);

  setenv("WSRING_TEST_TOKEN", "env-secret\n", 1);
  ASSERT_TRUE(read_token_env("WSRING_TEST_TOKEN", token, error)) << error;
  EXPECT_EQ(token, "env-secret");
  setenv("WSRING_TEST_TOKEN", "env secret", 1);
  EXPECT_FALSE(read_token_env("WSRING_TEST_TOKEN", token, error));
  EXPECT_EQ(error.find("secret"), std::string::npos) << error;
  unsetenv("WSRING_TEST_TOKEN");
  EXPECT_FALSE(read_token_env("WSRING_TEST_TOKEN", token, error));
  EXPECT_NE(error.find("not set"), std::string::npos);
}

TEST(UpgradeOptions, RequestHeadersCarryTheBearerToken) {
  UpgradeOptions o;
  o.header_names = {"X-A"};
  o.header_values = {"1"};
  o.bearer_token = "tok";
  std::string authorization;
  const auto headers = request_headers(o, authorization);
  ASSERT_EQ(headers.size(), 2u);
  EXPECT_EQ(headers[0].name, "X-A");
  EXPECT_EQ(headers[1].name, "Authorization");
  EXPECT_EQ(headers[1].value, "Bearer tok");
  EXPECT_GE(o.request_bytes(), std::string("X-A: 1\r\nAuthorization: Bearer tok\r\n").size());
}
