#include "net/socket.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace wsring::net {
namespace {

TEST(ParseAddress, Ipv4) {
  SocketAddress a;
  std::string error;
  ASSERT_TRUE(parse_address("127.0.0.1:9001", a, &error)) << error;
  EXPECT_EQ(a.family(), AF_INET);
  EXPECT_EQ(a.port(), 9001);
  EXPECT_EQ(a.length, socklen_t(sizeof(sockaddr_in)));
  EXPECT_EQ(a.to_string(), "127.0.0.1:9001");
  const auto* in = reinterpret_cast<const sockaddr_in*>(a.get());
  EXPECT_EQ(ntohl(in->sin_addr.s_addr), 0x7f000001u);
}

TEST(ParseAddress, Ipv6InBrackets) {
  SocketAddress a;
  std::string error;
  ASSERT_TRUE(parse_address("[::1]:443", a, &error)) << error;
  EXPECT_EQ(a.family(), AF_INET6);
  EXPECT_EQ(a.port(), 443);
  EXPECT_EQ(a.length, socklen_t(sizeof(sockaddr_in6)));
  EXPECT_EQ(a.to_string(), "[::1]:443");
  ASSERT_TRUE(parse_address("[2001:db8::17]:0", a, &error)) << error;
  EXPECT_EQ(a.to_string(), "[2001:db8::17]:0");
}

TEST(ParseAddress, Localhost) {
  SocketAddress a;
  ASSERT_TRUE(parse_address("localhost:80", a, nullptr));
  EXPECT_EQ(a.to_string(), "127.0.0.1:80");
}

TEST(ParseAddress, PortOnlyMeansAnyAddress) {
  SocketAddress a;
  ASSERT_TRUE(parse_address(":8080", a, nullptr));
  EXPECT_EQ(a.family(), AF_INET);
  EXPECT_EQ(a.to_string(), "0.0.0.0:8080");
}

TEST(ParseAddress, PortBounds) {
  SocketAddress a;
  EXPECT_TRUE(parse_address("1.2.3.4:0", a, nullptr));
  EXPECT_EQ(a.port(), 0);
  EXPECT_TRUE(parse_address("1.2.3.4:65535", a, nullptr));
  EXPECT_EQ(a.port(), 65535);
}

TEST(ParseAddress, BadPortsAreRejectedWithAMessage) {
  for (const char* text : {"1.2.3.4:65536", "1.2.3.4:", "1.2.3.4:-1", "1.2.3.4:+80", "1.2.3.4:12a", "1.2.3.4: 80",
                           "1.2.3.4:80 ", "1.2.3.4:99999999999999999999", "1.2.3.4:0x50", "[::1]:70000"}) {
    SCOPED_TRACE(text);
    SocketAddress a;
    std::string error;
    EXPECT_FALSE(parse_address(text, a, &error));
    EXPECT_NE(error.find("port"), std::string::npos) << error;
  }
}

TEST(ParseAddress, JunkIsRejectedWithAMessage) {
  for (const char* text : {"", "nonsense", "1.2.3.4", "example.com:80", "1.2.3:80", "256.1.1.1:80", "::1:80",
                           "[::1:80", "[::1]", "[zz::]:80", "[]:80", "[127.0.0.1]:80", "1.2.3.4::80", " 1.2.3.4:80"}) {
    SCOPED_TRACE(text);
    SocketAddress a;
    std::string error;
    EXPECT_FALSE(parse_address(text, a, &error));
    EXPECT_FALSE(error.empty());
  }
}

TEST(ParseAddress, NullErrorIsAllowed) {
  SocketAddress a;
  EXPECT_FALSE(parse_address("junk", a, nullptr));
}

TEST(OpenListener, PortZeroPicksAPortThatLocalAddressReports) {
  SocketAddress want;
  ASSERT_TRUE(parse_address("127.0.0.1:0", want, nullptr));
  std::string error;
  const int fd = open_listener(want, false, 16, &error);
  ASSERT_GE(fd, 0) << error;
  const SocketAddress got = local_address(fd);
  EXPECT_EQ(got.family(), AF_INET);
  EXPECT_NE(got.port(), 0);
  EXPECT_EQ(got.to_string(), "127.0.0.1:" + std::to_string(got.port()));
  // Non-blocking and close-on-exec, as the reactors expect.
  EXPECT_TRUE(fcntl(fd, F_GETFL) & O_NONBLOCK);
  EXPECT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
  // It really listens there.
  const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(client, 0);
  EXPECT_EQ(::connect(client, got.get(), got.length), 0) << strerror(errno);
  ::close(client);
  ::close(fd);
}

TEST(OpenListener, PortInUseFailsWithAMessage) {
  SocketAddress any_port;
  ASSERT_TRUE(parse_address("127.0.0.1:0", any_port, nullptr));
  std::string error;
  const int first = open_listener(any_port, false, 16, &error);
  ASSERT_GE(first, 0) << error;
  const SocketAddress taken = local_address(first);
  error.clear();
  const int second = open_listener(taken, false, 16, &error);
  EXPECT_EQ(second, -EADDRINUSE);
  EXPECT_NE(error.find(taken.to_string()), std::string::npos) << error;
  EXPECT_NE(error.find(strerror(EADDRINUSE)), std::string::npos) << error;
  ::close(first);
}

TEST(OpenListener, ReusePortLetsTwoListenersShareAPort) {
  SocketAddress any_port;
  ASSERT_TRUE(parse_address("127.0.0.1:0", any_port, nullptr));
  std::string error;
  const int first = open_listener(any_port, true, 16, &error);
  ASSERT_GE(first, 0) << error;
  const int second = open_listener(local_address(first), true, 16, &error);
  EXPECT_GE(second, 0) << error;
  if (second >= 0) ::close(second);
  ::close(first);
}

TEST(OpenListener, Ipv6Loopback) {
  SocketAddress want;
  ASSERT_TRUE(parse_address("[::1]:0", want, nullptr));
  std::string error;
  const int fd = open_listener(want, false, 16, &error);
  if (fd == -EADDRNOTAVAIL || fd == -EAFNOSUPPORT) GTEST_SKIP() << "no IPv6 loopback here: " << error;
  ASSERT_GE(fd, 0) << error;
  const SocketAddress got = local_address(fd);
  EXPECT_EQ(got.family(), AF_INET6);
  EXPECT_NE(got.port(), 0);
  EXPECT_EQ(got.to_string(), "[::1]:" + std::to_string(got.port()));
  ::close(fd);
}

TEST(LocalAddress, OfABadFdIsEmpty) {
  const SocketAddress a = local_address(-1);
  EXPECT_EQ(a.length, 0u);
  EXPECT_EQ(a.port(), 0);
}

TEST(SocketOptions, TcpNodelayIsSet) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  set_tcp_nodelay(fd);
  int on = 0;
  socklen_t len = sizeof on;
  ASSERT_EQ(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len), 0);
  EXPECT_NE(on, 0);
  ::close(fd);
}

TEST(FdLimit, RaiseNeverLowersAndHonoursWant) {
  rlimit before{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &before), 0);
  const uint64_t got = raise_fd_limit(before.rlim_cur);  // asking for what we have
  EXPECT_EQ(got, before.rlim_cur);
  const uint64_t raised = raise_fd_limit();
  EXPECT_GE(raised, before.rlim_cur);
  rlimit after{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &after), 0);
  EXPECT_EQ(after.rlim_cur, raised);
}

TEST(Clock, MonotonicNeverGoesBack) {
  uint64_t last_ms = monotonic_ms(), last_us = monotonic_us();
  EXPECT_GT(last_us, 0u);
  for (int i = 0; i < 1000; ++i) {
    const uint64_t ms = monotonic_ms(), us = monotonic_us();
    EXPECT_GE(ms, last_ms);
    EXPECT_GE(us, last_us);
    last_ms = ms;
    last_us = us;
  }
  EXPECT_LE(monotonic_ms(), monotonic_us() / 1000 + 1);
}

}  // namespace
}  // namespace wsring::net
