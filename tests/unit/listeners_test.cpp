#include "server/listeners.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

namespace wsring::server {
namespace {

net::SocketAddress address_of(const std::string& text) {
  net::SocketAddress address;
  std::string error;
  EXPECT_TRUE(net::parse_address(text, address, &error)) << error;
  return address;
}

struct Opened : Listeners {
  ~Opened() {
    for (int fd : fds) ::close(fd);
  }
};

TEST(Listeners, OnePortForAllThreads) {
  Opened listeners;
  std::string error;
  ASSERT_TRUE(open_listeners(address_of("127.0.0.1:0"), 3, false, listeners, error)) << error;
  ASSERT_EQ(listeners.fds.size(), 3u);
  EXPECT_NE(listeners.address.port(), 0);
  for (int fd : listeners.fds) EXPECT_EQ(net::local_address(fd).port(), listeners.address.port());
}

TEST(Listeners, AnotherServersPortIsInUse) {
  Opened first;
  std::string error;
  ASSERT_TRUE(open_listeners(address_of("127.0.0.1:0"), 2, false, first, error)) << error;
  const std::string taken = first.address.to_string();

  Opened second;
  EXPECT_FALSE(open_listeners(first.address, 1, false, second, error));
  EXPECT_TRUE(second.fds.empty());
  EXPECT_NE(error.find(taken), std::string::npos) << error;
  EXPECT_NE(error.find("address in use"), std::string::npos) << error;
  EXPECT_NE(error.find("--reuse-port"), std::string::npos) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos);

  // On purpose: join the running server's SO_REUSEPORT group.
  Opened joined;
  ASSERT_TRUE(open_listeners(first.address, 2, true, joined, error)) << error;
  EXPECT_EQ(joined.address.port(), first.address.port());
}

TEST(Listeners, ASocketWithoutReusePortCannotBeJoined) {
  Opened holder;
  std::string error;
  const int fd = net::open_listener(address_of("127.0.0.1:0"), /*reuse_port=*/false, 16, &error);
  ASSERT_GE(fd, 0) << error;
  holder.fds.push_back(fd);
  const net::SocketAddress taken = net::local_address(fd);
  Opened mine;
  EXPECT_FALSE(open_listeners(taken, 1, false, mine, error));
  EXPECT_FALSE(open_listeners(taken, 1, true, mine, error));
  EXPECT_NE(error.find(taken.to_string()), std::string::npos) << error;
  EXPECT_TRUE(mine.fds.empty());
}

TEST(Listeners, UrlsShowAReachableAddress) {
  EXPECT_EQ(url_for(address_of("127.0.0.1:9001"), "ws", ""), "ws://127.0.0.1:9001/");
  EXPECT_EQ(url_for(address_of("127.0.0.1:9001"), "http", "/echo"), "http://127.0.0.1:9001/echo");
  EXPECT_EQ(url_for(address_of("0.0.0.0:80"), "ws", "/"), "ws://127.0.0.1:80/");
  EXPECT_EQ(url_for(address_of("[::]:81"), "ws", "/"), "ws://[::1]:81/");
  EXPECT_EQ(url_for(address_of("[::1]:82"), "http", "/"), "http://[::1]:82/");
}

}  // namespace
}  // namespace wsring::server
