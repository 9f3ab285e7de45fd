#include "server/proxy_trust.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <cstring>
#include <string>
#include <vector>

#include "server/config.hpp"

namespace wsring::server {
namespace {

sockaddr_storage peer(const char* ip) {
  sockaddr_storage s{};
  if (std::strchr(ip, ':')) {
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&s);
    a6->sin6_family = AF_INET6;
    EXPECT_EQ(inet_pton(AF_INET6, ip, &a6->sin6_addr), 1) << ip;
  } else {
    auto* a4 = reinterpret_cast<sockaddr_in*>(&s);
    a4->sin_family = AF_INET;
    EXPECT_EQ(inet_pton(AF_INET, ip, &a4->sin_addr), 1) << ip;
  }
  return s;
}

std::vector<Cidr> cidrs(std::initializer_list<const char*> texts) {
  std::vector<Cidr> out;
  for (const char* t : texts) {
    Cidr c;
    EXPECT_TRUE(parse_cidr(t, c, nullptr)) << t;
    out.push_back(c);
  }
  return out;
}

TEST(ProxyTrust, ParsesCidrs) {
  Cidr c;
  ASSERT_TRUE(parse_cidr("10.1.0.0/16", c, nullptr));
  EXPECT_EQ(c.family, AF_INET);
  EXPECT_EQ(c.prefix, 16u);
  ASSERT_TRUE(parse_cidr("2001:db8::/32", c, nullptr));
  EXPECT_EQ(c.family, AF_INET6);
  EXPECT_EQ(c.prefix, 32u);
  ASSERT_TRUE(parse_cidr("127.0.0.2", c, nullptr));
  EXPECT_EQ(c.prefix, 32u);
  ASSERT_TRUE(parse_cidr("::1", c, nullptr));
  EXPECT_EQ(c.prefix, 128u);
  std::string error;
  for (const char* bad : {"10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/x", "300.0.0.1", "", "host/8", "1.2.3/8"}) {
    EXPECT_FALSE(parse_cidr(bad, c, &error)) << bad;
    EXPECT_NE(error.find(bad), std::string::npos) << error;
  }
}

TEST(ProxyTrust, MatchesPrefixes) {
  const auto trusted = cidrs({"10.1.0.0/16", "192.0.2.128/25", "2001:db8::/32", "127.0.0.2"});
  EXPECT_TRUE(peer_trusted(peer("10.1.255.3"), trusted));
  EXPECT_FALSE(peer_trusted(peer("10.2.0.1"), trusted));
  EXPECT_TRUE(peer_trusted(peer("192.0.2.200"), trusted));
  EXPECT_FALSE(peer_trusted(peer("192.0.2.100"), trusted));
  EXPECT_TRUE(peer_trusted(peer("2001:db8:ffff::1"), trusted));
  EXPECT_FALSE(peer_trusted(peer("2001:db9::1"), trusted));
  EXPECT_TRUE(peer_trusted(peer("127.0.0.2"), trusted));
  EXPECT_FALSE(peer_trusted(peer("127.0.0.1"), trusted));
  EXPECT_TRUE(peer_trusted(peer("::ffff:10.1.2.3"), trusted));  // a dual-stack listener's IPv4 peer
  EXPECT_FALSE(peer_trusted(peer("::ffff:10.2.2.3"), trusted));
  EXPECT_TRUE(peer_trusted(peer("8.8.8.8"), cidrs({"0.0.0.0/0"})));
  EXPECT_FALSE(peer_trusted(peer("::1"), cidrs({"0.0.0.0/0"})));
  EXPECT_FALSE(peer_trusted(peer("10.1.0.1"), {}));
}

TEST(ProxyTrust, ClientText) {
  core::ProxyHeader h;
  h.status = core::ProxyStatus::Done;
  h.family = core::ProxyFamily::Inet;
  const uint8_t v4[4] = {203, 0, 113, 7};
  std::memcpy(h.source.ip, v4, 4);
  h.source.port = 4711;
  net::SocketAddress client;
  ASSERT_TRUE(proxy_client_address(h, client));
  EXPECT_EQ(client.to_string(), "203.0.113.7:4711");
  h.family = core::ProxyFamily::Inet6;
  std::memset(h.source.ip, 0, 16);
  h.source.ip[15] = 1;
  ASSERT_TRUE(proxy_client_address(h, client));
  EXPECT_EQ(client.to_string(), "[::1]:4711");
  char text[net::SocketAddress::kTextSize];
  EXPECT_EQ(client.format(text, 6), 5u);  // cut to fit, NUL-terminated
  EXPECT_STREQ(text, "[::1]");
  h.local = true;
  EXPECT_FALSE(proxy_client_address(h, client));
  EXPECT_EQ(client.family(), AF_UNSPEC);
  h.local = false;
  h.family = core::ProxyFamily::Unix;
  EXPECT_FALSE(proxy_client_address(h, client));
}

TEST(ProxyTrust, CommandLine) {
  std::vector<std::string> listeners;
  std::vector<Cidr> trusted;
  std::string error;
  EXPECT_TRUE(parse_proxy_listener("all", listeners, error));
  EXPECT_TRUE(parse_proxy_listener("9443", listeners, error));  // a bare port, as --listen takes it
  EXPECT_EQ(listeners.back(), "127.0.0.1:9443");
  EXPECT_FALSE(parse_proxy_listener("nonsense", listeners, error));
  EXPECT_EQ(error.rfind("--proxy-protocol", 0), 0u) << error;
  EXPECT_FALSE(parse_proxy_from("10.0.0.0/40", trusted, error));
  EXPECT_EQ(error.rfind("--proxy-from", 0), 0u) << error;

  EXPECT_TRUE(proxy_listener({"all"}, "127.0.0.1:1"));
  EXPECT_TRUE(proxy_listener({"127.0.0.1:1"}, "127.0.0.1:1"));
  EXPECT_FALSE(proxy_listener({"127.0.0.1:1"}, "127.0.0.1:2"));
  EXPECT_FALSE(proxy_listener({}, "127.0.0.1:1"));

  const auto some = cidrs({"127.0.0.1"});
  std::string message;
  EXPECT_FALSE(check_proxy_flags({"all"}, {}, "127.0.0.1:9001", {}, message));
  EXPECT_NE(message.find("--proxy-from"), std::string::npos);
  EXPECT_FALSE(check_proxy_flags({}, some, "127.0.0.1:9001", {}, message));
  EXPECT_FALSE(check_proxy_flags({"127.0.0.1:9443"}, some, "127.0.0.1:9001", {}, message));
  EXPECT_TRUE(check_proxy_flags({"127.0.0.1:9443"}, some, "127.0.0.1:9001", {"127.0.0.1:9443"}, message));
  EXPECT_TRUE(check_proxy_flags({"all"}, some, "127.0.0.1:9001", {}, message));
  EXPECT_TRUE(check_proxy_flags({}, {}, "127.0.0.1:9001", {}, message));
}

TEST(ProxyTrust, ParsedFromTheCommandLine) {
  Config config;
  std::string message;
  const char* argv[] = {"wsring-echo", "--proxy-protocol", "all", "--proxy-from", "10.0.0.0/8",
                        "--proxy-from", "::1", "--drain-window", "250ms"};
  ASSERT_EQ(parse_command_line(9, const_cast<char**>(argv), config, message), ParseOutcome::Run) << message;
  EXPECT_EQ(config.proxy_listeners, std::vector<std::string>{"all"});
  EXPECT_EQ(config.proxy_from.size(), 2u);
  EXPECT_DOUBLE_EQ(config.drain_window_s, 0.25);
  Config zero;
  const char* argv0[] = {"wsring-echo", "--drain-window", "0"};
  ASSERT_EQ(parse_command_line(3, const_cast<char**>(argv0), zero, message), ParseOutcome::Run) << message;
  EXPECT_EQ(zero.drain_window_s, 0);
}

}  // namespace
}  // namespace wsring::server
