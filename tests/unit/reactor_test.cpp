#include "net/reactor.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "net/socket.hpp"

namespace wsring::net {
namespace {

// Every test is bounded: the loop stops itself from on_tick once this budget is spent, and
// the test then fails on timed_out. Generous, so that a slow or shared machine cannot fail
// a correct reactor; a hung reactor still ends the test.
constexpr uint64_t kBudgetMs = 20000;

int count_open_fds() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') ++n;
    closedir(d);
  }
  return n - 1;  // the directory's own fd
}

bool fd_is_open(int fd) { return fcntl(fd, F_GETFD) != -1 || errno != EBADF; }

// An EventHandler whose behaviour each test sets with lambdas; by default it records what
// arrives. Callbacks run on the reactor's thread, inside run().
struct Loop : EventHandler {
  explicit Loop(Reactor& reactor) : r(reactor) {}

  void run(uint64_t budget_ms = kBudgetMs) {
    deadline_ms = monotonic_ms() + budget_ms;
    r.run(*this);
  }
  void stop() { r.stop(); }

  void on_accept(int fd, int /*listen_fd*/) override {
    accepted_fds.push_back(fd);
    if (accept_fn) {
      accept_fn(fd);
    } else {
      r.open(next_token, fd);
      ++next_token;
    }
  }
  void on_connect(Token t, int result) override {
    connect_results[t] = result;
    if (connect_fn) connect_fn(t, result);
  }
  void on_recv(Token t, const RecvBuffer& b) override {
    ++recv_calls[t];
    EXPECT_NE(b.data, nullptr);
    EXPECT_GT(b.size, 0u);
    EXPECT_LE(b.size, b.capacity);
    if (closed_called[t]) ADD_FAILURE() << "on_recv after close(" << t << ")";
    if (recv_end_calls[t]) ADD_FAILURE() << "on_recv after on_recv_end(" << t << ")";
    if (recv_fn) {
      recv_fn(t, b);
    } else {
      received[t].append(reinterpret_cast<const char*>(b.data), b.size);
      r.release_buffer(b.id);
    }
  }
  void on_recv_end(Token t, int error) override {
    ++recv_end_calls[t];
    recv_end_error[t] = error;
    if (closed_called[t]) ADD_FAILURE() << "on_recv_end after close(" << t << ")";
    if (recv_end_fn) recv_end_fn(t, error);
  }
  void on_send(Token t, int result) override {
    ++send_calls[t];
    if (closed_called[t]) ADD_FAILURE() << "on_send after close(" << t << ")";
    if (send_fn) send_fn(t, result);
  }
  void on_closed(Token t) override {
    ++closed_calls[t];
    if (!closed_called[t]) ADD_FAILURE() << "on_closed(" << t << ") without close()";
    if (closed_fn) closed_fn(t);
  }
  void on_tick(uint64_t now_ms) override {
    ++ticks;
    if (now_ms >= deadline_ms) {
      timed_out = true;
      r.stop();
      return;
    }
    if (tick_fn) tick_fn(now_ms);
  }

  // Closes through the reactor and remembers it (to catch deliveries after close).
  void close(Token t, bool reset = false) {
    closed_called[t] = true;
    r.close(t, reset);
  }

  Reactor& r;
  uint64_t deadline_ms = 0;
  bool timed_out = false;
  uint64_t ticks = 0;
  Token next_token = 1;

  std::function<void(int)> accept_fn;
  std::function<void(Token, int)> connect_fn;
  std::function<void(Token, const RecvBuffer&)> recv_fn;
  std::function<void(Token, int)> recv_end_fn;
  std::function<void(Token, int)> send_fn;
  std::function<void(Token)> closed_fn;
  std::function<void(uint64_t)> tick_fn;

  std::vector<int> accepted_fds;
  std::map<Token, std::string> received;
  std::map<Token, int> recv_calls, recv_end_calls, recv_end_error, send_calls, closed_calls, connect_results;
  std::map<Token, bool> closed_called;
};

std::string pattern(size_t n, uint32_t seed = 1) {
  std::string s(n, '\0');
  uint32_t x = seed;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1103515245u + 12345u;
    s[i] = char(x >> 16);
  }
  return s;
}

// Reads what is available (non-blocking) into out, at most max bytes; returns recv's last result.
ssize_t read_some(int fd, std::string& out, size_t max = SIZE_MAX) {
  char buf[65536];
  ssize_t r = 0;
  while (max > 0) {
    r = ::recv(fd, buf, std::min(sizeof buf, max), MSG_DONTWAIT);
    if (r <= 0) break;
    out.append(buf, size_t(r));
    max -= size_t(r);
  }
  return r;
}

class ReactorTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override { fds_before_ = count_open_fds(); }
  void TearDown() override {
    for (int fd : client_fds_) ::close(fd);
    if (listen_fd_ >= 0) ::close(listen_fd_);
    reactor_.reset();
    EXPECT_EQ(count_open_fds(), fds_before_) << "file descriptors leaked";
  }

  // Creates the reactor under test; false (the test should skip) if io_uring is unavailable.
  bool create(ReactorOptions options = {}) {
    options.tick_ms = 5;
    std::string why;
    reactor_ = make_reactor(GetParam(), options, &why);
    if (!reactor_) {
      skip_reason_ = why;
      EXPECT_EQ(GetParam(), Backend::IoUring) << "epoll must always work: " << why;
      return false;
    }
    EXPECT_STREQ(reactor_->name(), backend_name(GetParam()));
    return true;
  }
  Reactor& reactor() { return *reactor_; }
  void echo_many_then_close(const ReactorOptions& options);

  // A listener on 127.0.0.1:0 handed to the reactor; returns its address.
  SocketAddress listen() {
    SocketAddress any;
    EXPECT_TRUE(parse_address("127.0.0.1:0", any, nullptr));
    std::string error;
    listen_fd_ = open_listener(any, false, 64, &error);
    EXPECT_GE(listen_fd_, 0) << error;
    reactor_->listen(listen_fd_);
    return local_address(listen_fd_);
  }

  // A plain client socket connected to addr (the kernel completes it from the backlog),
  // non-blocking afterwards. rcvbuf > 0 shrinks its receive buffer first.
  int client(const SocketAddress& addr, int rcvbuf = 0) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_GE(fd, 0);
    if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    EXPECT_EQ(::connect(fd, addr.get(), addr.length), 0) << strerror(errno);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    client_fds_.push_back(fd);
    return fd;
  }

  std::unique_ptr<Reactor> reactor_;
  std::string skip_reason_;
  int listen_fd_ = -1;
  std::vector<int> client_fds_;
  int fds_before_ = 0;
};

#define CREATE_OR_SKIP(options)                                        \
  do {                                                                 \
    if (!create(options)) GTEST_SKIP() << "no io_uring: " << skip_reason_; \
  } while (0)

TEST_P(ReactorTest, AcceptsAndReceivesWithWritableHeadroom) {
  CREATE_OR_SKIP(ReactorOptions{});
  const SocketAddress addr = listen();
  const int c = client(addr);
  ASSERT_EQ(::send(c, "hello", 5, 0), 5);
  Loop loop(reactor());
  int accepted_fd = -1;
  loop.accept_fn = [&](int fd) {
    accepted_fd = fd;
    // Non-blocking and without Nagle's delay, as the interface promises (TCP_NODELAY comes from
    // the listening socket, which listen() sets).
    EXPECT_TRUE(fcntl(fd, F_GETFL) & O_NONBLOCK);
    int nodelay = 0;
    socklen_t size = sizeof nodelay;
    ASSERT_EQ(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &size), 0);
    EXPECT_EQ(nodelay, 1);
    reactor().open(1, fd);
  };
  loop.recv_fn = [&](Token t, const RecvBuffer& b) {
    EXPECT_EQ(t, 1u);
    EXPECT_EQ(reactor().buffers_in_use(), 1u);
    const std::string before(reinterpret_cast<const char*>(b.data), b.size);
    // The headroom is ours to write: a header prepended in place must not touch the data.
    std::memset(b.data - kRecvHeadroom, 0xAB, kRecvHeadroom);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(b.data), b.size), before);
    loop.received[t] += before;
    reactor().release_buffer(b.id);
    EXPECT_EQ(reactor().buffers_in_use(), 0u);
    if (loop.received[t] == "hello") loop.close(t);
  };
  loop.closed_fn = [&](Token) { loop.stop(); };
  loop.run();
  EXPECT_FALSE(loop.timed_out);
  EXPECT_EQ(loop.received[1], "hello");
  EXPECT_EQ(loop.closed_calls[1], 1);
  ASSERT_GE(accepted_fd, 0);
  EXPECT_FALSE(fd_is_open(accepted_fd)) << "the reactor closes the fd before on_closed";
}

TEST_P(ReactorTest, HeadroomOfOneBufferDoesNotOverlapAnother) {
  ReactorOptions options;
  options.recv_buffer_size = 1024;  // 1008 bytes of data each
  options.recv_buffer_count = 16;
  CREATE_OR_SKIP(options);
  const SocketAddress addr = listen();
  const int c = client(addr);
  const std::string sent = pattern(6000);
  ASSERT_EQ(::send(c, sent.data(), sent.size(), 0), ssize_t(sent.size()));
  Loop loop(reactor());
  std::vector<RecvBuffer> held;
  size_t total = 0;
  loop.recv_fn = [&](Token t, const RecvBuffer& b) {
    EXPECT_EQ(b.capacity, 1024u - kRecvHeadroom);
    std::memset(b.data - kRecvHeadroom, 0xEE, kRecvHeadroom);  // scribble on every headroom
    held.push_back(b);
    total += b.size;
    if (total < sent.size()) return;
    // Every byte intact, in order, although all headrooms were overwritten meanwhile.
    std::string joined;
    for (const RecvBuffer& h : held) joined.append(reinterpret_cast<const char*>(h.data), h.size);
    EXPECT_EQ(joined, sent);
    for (const RecvBuffer& h : held) reactor().release_buffer(h.id);
    held.clear();
    loop.close(t);
  };
  loop.closed_fn = [&](Token) { loop.stop(); };
  loop.run();
  EXPECT_FALSE(loop.timed_out);
  EXPECT_EQ(total, sent.size());
  EXPECT_EQ(reactor().buffers_in_use(), 0u);
}

TEST_P(ReactorTest, SendGathersSeveralIovecs) {
  CREATE_OR_SKIP(ReactorOptions{});
  const SocketAddress addr = listen();
  const int c = client(addr);
  Loop loop(reactor());
  static const char a[] = "ab", b[] = "cde", d[] = "fghij";
  iovec iov[3] = {{const_cast<char*>(a), 2}, {const_cast<char*>(b), 3}, {const_cast<char*>(d), 5}};
  loop.accept_fn = [&](int fd) {
    reactor().open(1, fd);
    reactor().send(1, iov, 3);
  };
  int result = 0;
  loop.send_fn = [&](Token, int r) { result = r; };
  std::string got;
  loop.tick_fn = [&](uint64_t) {
    read_some(c, got);
    if (got.size() >= 10 && result != 0 && !loop.closed_called[1]) loop.close(1);
  };
  loop.closed_fn = [&](Token) { loop.stop(); };
  loop.run();
  EXPECT_FALSE(loop.timed_out);
  EXPECT_EQ(result, 10);
  EXPECT_EQ(loop.send_calls[1], 1);
  EXPECT_EQ(got, "abcdefghij");
}

// start_queued() puts what the turn has queued on the wire before the handler returns (a handler
// about to hold the thread, as with a TLS handshake step, lets its replies leave first).
TEST_P(ReactorTest, StartQueuedPutsTheTurnsSendsOnTheWireAtOnce) {
  CREATE_OR_SKIP(ReactorOptions{});
  const SocketAddress addr = listen();
  const int c = client(addr);
  Loop loop(reactor());
  static const char reply[] = "early";
  iovec iov{const_cast<char*>(reply), 5};
  bool arrived_in_the_turn = false;
  loop.accept_fn = [&](int fd) {
    reactor().open(1, fd);
    reactor().send(1, &iov, 1);
    reactor().start_queued();
    pollfd p{c, POLLIN, 0};
    arrived_in_the_turn = ::poll(&p, 1, 2000) == 1;  // still inside the turn
  };
  std::string got;
  loop.tick_fn = [&](uint64_t) {
    read_some(c, got);
    if (got.size() >= 5 && !loop.closed_called[1]) loop.close(1);
  };
  loop.closed_fn = [&](Token) { loop.stop(); };
  loop.run();
  EXPECT_FALSE(loop.timed_out);
  EXPECT_TRUE(arrived_in_the_turn);
  EXPECT_EQ(got, "early");
}

TEST_P(ReactorTest, LargeSendToASlowReaderContinuesAfterShortSends) {
  CREATE_OR_SKIP(ReactorOptions{});
  const SocketAddress addr = listen();
  const int c = client(addr, 32 * 1024);
  const std::string payload = pattern(8 << 20, 7);
  size_t offset = 0, short_sends = 0, full_socket = 0;
  iovec iov{};
  Loop loop(reactor());
  auto send_rest = [&]() {
    iov = {const_cast<char*>(payload.data() + offset), payload.size() - offset};
    reactor().send(1, &iov, 1);
  };
  loop.accept_fn = [&](int fd) {
    int small = 32 * 1024;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    reactor().open(1, fd);
    send_rest();
  };
  loop.send_fn = [&](Token, int r) {
    if (r == -EAGAIN) {
      ++full_socket;  // nothing sent; the next send waits for room
    } else {
      ASSERT_GT(r, 0) << strerror(-r);
      if (size_t(r) < payload.size() - offset) ++short_sends;
      offset += size_t(r);
    }
    if (offset < payload.size()) send_rest();
  };
  std::string got;
  loop.tick_fn = [&](uint64_t) {
    read_some(c, got, 256 * 1024);  // a slow reader: a slice per tick
    if (got.size() == payload.size() && !loop.closed_called[1]) loop.close(1);
  };
  loop.closed_fn = [&](Token) { loop.stop(); };
  loop.run();
  EXPECT_FALSE(loop.timed_out) << got.size() << " of " << payload.size() << " bytes arrived";
  EXPECT_EQ(offset, payload.size());
  EXPECT_TRUE(got == payload) << "the stream arrived altered (" << got.size() << " bytes)";
  EXPECT_GT(short_sends + full_socket, 0u) << "8 MiB cannot fit a 32 KiB socket in one send";
}

TEST_P(ReactorTest, PausedSocketDeliversNothingUntilResumed) {
  CREATE_OR_SKIP(ReactorOptions{});
  const SocketAddress addr = listen();
  const int c = client(addr);
  const std::string sent = pattern(3000, 3);
  Loop loop(reactor());
  loop.accept_fn = [&](int fd) {
    reactor().open(1, fd);
    reactor().pause_recv(1);
    reactor().pause_recv(1);  // idempotent
  };
  int phase = 0;
  uint64_t resumed_at_tick = 0;
  loop.tick_fn = [&](uint64_t) {
    if (phase == 0 && !loop.accepted_fds.empty()) {
      ASSERT_EQ(::send(c, sent.data(), sent.size(), 0), ssize_t(sent.size()));
      phase = 1;
    } else if (phase >= 1 && phase < 40) {
      ++phase;  // ~40 ticks with data waiting on a paused socket
    } else if (phase == 40) {
      EXPECT_EQ(loop.recv_calls[1], 0) << "data delivered while paused";
      reactor().resume_recv(1);
      reactor().resume_recv(1);  // idempotent
      resumed_at_tick = loop.ticks;
      phase = 41;
    } else if (phase == 41 && loop.received[1].size() == sent.size()) {
      loop.close(1);
      phase = 42;
    }
  };
  loop.closed_fn = [&](Token) { loop.stop(); };
  loop.run();
  EXPECT_FALSE(loop.timed_out);
  EXPECT_GT(resumed_at_tick, 0u);
  EXPECT_EQ(loop.received[1], sent);
}

TEST_P(ReactorTest, PauseAfterDataStopsFurtherDelivery) {
  CREATE_OR_SKIP(ReactorOptions{});
  const SocketAddress addr = listen();
  const int c = client(addr);
  Loop loop(reactor());
  int phase = 0, recvs_at_pause = 0;
  loop.recv_fn = [&](Token t, const RecvBuffer& b) {
    loop.received[t].append(reinterpret_cast<const char*>(b.data), b.size);
    reactor().release_buffer(b.id);
    if (phase == 1) {
      reactor().pause_recv(t);  // from inside on_recv, as the echo server does
      recvs_at_pause = loop.recv_calls[t];
      phase = 2;
    }
  };
  int wait = 0;
  loop.tick_fn = [&](uint64_t) {
    if (phase == 0 && !loop.accepted_fds.empty()) {
      ASSERT_EQ(::send(c, "first", 5, 0), 5);
      phase = 1;
    } else if (phase == 2) {
      ASSERT_EQ(::send(c, "second", 6, 0), 6);
      phase = 3;
    } else if (phase == 3 && ++wait == 40) {
      EXPECT_EQ(loop.recv_calls[1], recvs_at_pause) << "data delivered while paused";
      reactor().resume_recv(1);
      phase = 4;
    } else if (phase == 4 && loop.received[1] == "firstsecond") {
      loop.close(1);
      phase = 5;
    }
  };
  loop.closed_fn = [&](Token) { loop.stop(); };
  loop.run();
  EXPECT_FALSE(loop.timed_out);
  EXPECT_EQ(loop.received[1], "firstsecond");
}

TEST_P(ReactorTest, EndOfStreamIsReportedAfterTheData) {
  CREATE_OR_SKIP(ReactorOptions{});
  const SocketAddress addr = listen();
  const int c = client(addr);
  ASSERT_EQ(::send(c, "bye", 3, 0), 3);
  ASSERT_EQ(::shutdown(c, SHUT_WR), 0);
  Loop loop(reactor());
  loop.recv_end_fn = [&](Token t, int error) {
    EXPECT_EQ(error, 0);
    EXPECT_EQ(loop.received[t], "bye") << "end of stream before the data";
    loop.close(t);
  };
  loop.closed_fn = [&](Token) { loop.stop(); };
  loop.run();
  EXPECT_FALSE(loop.timed_out);
  EXPECT_EQ(loop.recv_end_calls[1], 1);
  EXPECT_EQ(loop.closed_calls[1], 1);
}

// Queues as much of data on fd as the kernel takes now (the socket is non-blocking).
size_t queue_what_fits(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_DONTWAIT);
    if (n <= 0) break;
    sent += size_t(n);
  }
  return sent;
}

// Fairness (reactor.hpp): a socket whose peer has sent a lot is handed about kRecvTurnBudget
// bytes per turn; a socket with a little data waiting gets it in the same turn, not after
// the whole burst.
TEST_P(ReactorTest, OneSocketsBurstDoesNotDelayAnother) {
  CREATE_OR_SKIP(ReactorOptions{});
  const SocketAddress addr = listen();
  const int burst_fd = client(addr);  // token 1
  const int other = client(addr);     // token 2
  const std::string burst = pattern(8 << 20, 21);
  const size_t queued = queue_what_fits(burst_fd, burst);
  ASSERT_GT(queued, 4 * kRecvTurnBudget) << "the kernel took too little of the burst to test anything";
  ASSERT_EQ(::send(other, "ping", 4, 0), 4);
  Loop loop(reactor());
  size_t burst_before_other = SIZE_MAX;
  loop.recv_fn = [&](Token t, const RecvBuffer& b) {
    loop.received[t].append(reinterpret_cast<const char*>(b.data), b.size);
    reactor().release_buffer(b.id);
    if (t == 2 && burst_before_other == SIZE_MAX) burst_before_other = loop.received[1].size();
    if (loop.received[1].size() == queued && loop.received[2] == "ping") {
      loop.close(1);
      loop.close(2);
    }
  };
  loop.closed_fn = [&](Token) {
    if (loop.closed_calls[1] && loop.closed_calls[2]) loop.stop();
  };
  loop.run();
  EXPECT_FALSE(loop.timed_out) << loop.received[1].size() << " of " << queued << " bytes of the burst";
  EXPECT_TRUE(loop.received[1] == burst.substr(0, queued)) << "the burst arrived altered";
  std::printf("    %zu bytes of a %zu-byte burst were delivered before the other socket's 4 bytes\n",
              burst_before_other, queued);
  // The other socket's data is in the first batch of completions (it was waiting before the
  // loop started); the burst may have had one turn's budget, or two if the batch split.
  EXPECT_LE(burst_before_other, 2 * kRecvTurnBudget) << "one socket's burst delayed another";
  EXPECT_EQ(reactor().buffers_in_use(), 0u);
}

// A burst, then the peer's FIN: every byte comes (some of them turns later), and only then
// on_recv_end (the Loop fails the test on an on_recv after on_recv_end).
TEST_P(ReactorTest, EndOfStreamComesAfterAWholeBurst) {
  CREATE_OR_SKIP(ReactorOptions{});
  const SocketAddress addr = listen();
  const int c = client(addr);
  const std::string burst = pattern(8 << 20, 22);
  size_t queued = queue_what_fits(c, burst);
  Loop loop(reactor());
  bool shut = false;
  loop.tick_fn = [&](uint64_t) {
    if (!shut && queued < burst.size()) queued += queue_what_fits(c, burst.substr(queued, 1 << 20));
    if (!shut && queued >= 2 << 20) {
      ASSERT_EQ(::shutdown(c, SHUT_WR), 0);
      shut = true;
    }
  };
  loop.recv_end_fn = [&](Token t, int error) {
    EXPECT_EQ(error, 0);
    EXPECT_EQ(loop.received[t].size(), queued) << "end of stream before all the data";
    loop.close(t);
  };
  loop.closed_fn = [&](Token) { loop.stop(); };
  loop.run();
  EXPECT_FALSE(loop.timed_out);
  EXPECT_TRUE(loop.received[1] == burst.substr(0, queued)) << "the burst arrived altered";
  EXPECT_EQ(loop.recv_end_calls[1], 1);
}

// close() while the reactor still holds part of a burst for the socket (io_uring: completions
// waiting for the next turn): nothing more is delivered, every buffer comes back.
TEST_P(ReactorTest, CloseInTheMiddleOfABurstGivesEveryBufferBack) {
  CREATE_OR_SKIP(ReactorOptions{});
  const SocketAddress addr = listen();
  const int c = client(addr);
  const std::string burst = pattern(8 << 20, 23);
  ASSERT_GT(queue_what_fits(c, burst), 4 * kRecvTurnBudget);
  Loop loop(reactor());
  loop.recv_fn = [&](Token t, const RecvBuffer& b) {
    reactor().release_buffer(b.id);
    loop.close(t, true);
  };
  loop.closed_fn = [&](Token) { loop.stop(); };
  loop.run();
  EXPECT_FALSE(loop.timed_out);
  EXPECT_EQ(loop.recv_calls[1], 1);
  EXPECT_EQ(loop.closed_calls[1], 1);
  EXPECT_EQ(reactor().buffers_in_use(), 0u);
}

// A descriptor the backend cannot watch or read (epoll_ctl refuses /dev/null with EPERM;
// io_uring's recv says ENOTSOCK) fails cleanly with on_recv_end(-errno), never silently.
TEST_P(ReactorTest, ADescriptorTheBackendCannotWatchFailsWithRecvEnd) {
  CREATE_OR_SKIP(ReactorOptions{});
  const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  Loop loop(reactor());
  reactor().open(7, fd);
  loop.recv_end_fn = [&](Token t, int error) {
    EXPECT_LT(error, 0) << "an error, not an end of stream";
    loop.close(t);
  };
  loop.closed_fn = [&](Token) { loop.stop(); };
  loop.run();
  EXPECT_FALSE(loop.timed_out) << "the failure was never reported";
  EXPECT_EQ(loop.recv_end_calls[7], 1);
  EXPECT_EQ(loop.recv_calls[7], 0);
  EXPECT_EQ(loop.closed_calls[7], 1);
  EXPECT_FALSE(fd_is_open(fd));
}

TEST_P(ReactorTest, CloseDeliversOnClosedOnceAndThePeerSeesEndOfStream) {
  CREATE_OR_SKIP(ReactorOptions{});
  const SocketAddress addr = listen();
  const int c = client(addr);
  Loop loop(reactor());
  int fd = -1;
  loop.accept_fn = [&](int f) {
    fd = f;
    reactor().open(1, f);
    loop.close(1);
    loop.r.close(1);  // a second close is harmless
  };
  int ticks_after_close = 0;
  loop.tick_fn = [&](uint64_t) {
    if (loop.closed_calls[1] && ++ticks_after_close == 10) loop.stop();  // would a second on_closed come?
  };
  loop.run();
  EXPECT_FALSE(loop.timed_out);
  EXPECT_EQ(loop.closed_calls[1], 1);
  ASSERT_GE(fd, 0);
  EXPECT_FALSE(fd_is_open(fd));
  char byte;
  EXPECT_EQ(::recv(c, &byte, 1, MSG_DONTWAIT), 0) << "an orderly close is a FIN: " << strerror(errno);
}

TEST_P(ReactorTest, CloseWithResetSendsRst) {
  CREATE_OR_SKIP(ReactorOptions{});
  const SocketAddress addr = listen();
  const int c = client(addr);
  Loop loop(reactor());
  loop.accept_fn = [&](int f) {
    reactor().open(1, f);
    loop.close(1, true);
  };
  loop.closed_fn = [&](Token) { loop.stop(); };
  loop.run();
  EXPECT_FALSE(loop.timed_out);
  char byte;
  errno = 0;
  EXPECT_EQ(::recv(c, &byte, 1, MSG_DONTWAIT), -1);
  EXPECT_EQ(errno, ECONNRESET) << strerror(errno);
}

TEST_P(ReactorTest, CloseWithASendInFlightDeliversOnlyOnClosed) {
  CREATE_OR_SKIP(ReactorOptions{});
  const SocketAddress addr = listen();
  client(addr, 16 * 1024);  // never read
  const std::string payload = pattern(4 << 20, 5);
  iovec iov{};
  Loop loop(reactor());
  size_t offset = 0;
  bool closing = false;
  auto send_rest = [&]() {
    iov = {const_cast<char*>(payload.data() + offset), payload.size() - offset};
    reactor().send(1, &iov, 1);
  };
  loop.accept_fn = [&](int fd) {
    reactor().open(1, fd);
    send_rest();
  };
  loop.send_fn = [&](Token, int r) {
    if (r > 0) offset += size_t(r);
    send_rest();  // once the socket is full this send waits for room that never comes
  };
  int quiet_ticks = 0;
  uint64_t sends_seen = 0;
  loop.tick_fn = [&](uint64_t) {
    if (closing || loop.accepted_fds.empty()) return;
    // Close once sends have stopped completing: one is parked, waiting for room.
    const uint64_t now_sends = uint64_t(loop.send_calls[1]);
    quiet_ticks = now_sends == sends_seen ? quiet_ticks + 1 : 0;
    sends_seen = now_sends;
    if (quiet_ticks == 10) {
      closing = true;
      loop.close(1, true);
    }
  };
  loop.closed_fn = [&](Token) { loop.stop(); };
  loop.run();
  EXPECT_FALSE(loop.timed_out);
  EXPECT_LT(offset, payload.size()) << "the reader never read: the send cannot have finished";
  EXPECT_EQ(loop.closed_calls[1], 1);
}

TEST_P(ReactorTest, ExhaustedBuffersPauseReceivingWithoutLosingBytes) {
  ReactorOptions options;
  options.recv_buffer_size = 1024;
  options.recv_buffer_count = 8;
  CREATE_OR_SKIP(options);
  const SocketAddress addr = listen();
  const int c = client(addr);
  const std::string sent = pattern(64 * 1024, 9);
  size_t written = 0;
  Loop loop(reactor());
  std::vector<uint16_t> held;
  int starved_ticks = 0, rounds_exhausted = 0;
  uint32_t max_in_use = 0;
  loop.recv_fn = [&](Token t, const RecvBuffer& b) {
    loop.received[t].append(reinterpret_cast<const char*>(b.data), b.size);
    held.push_back(b.id);  // hold every buffer until all eight are out
    max_in_use = std::max(max_in_use, reactor().buffers_in_use());
    EXPECT_GE(reactor().socket_of(t), 0);  // an open token has its socket
  };
  loop.tick_fn = [&](uint64_t) {
    if (written < sent.size()) {
      ssize_t n = ::send(c, sent.data() + written, sent.size() - written, MSG_DONTWAIT);
      if (n > 0) written += size_t(n);
    }
    if (held.size() == 8) {
      EXPECT_EQ(reactor().buffers_in_use(), 8u);
      if (++starved_ticks == 5) {  // nothing can arrive meanwhile: no buffer to put it in
        ++rounds_exhausted;
        for (uint16_t id : held) reactor().release_buffer(id);
        held.clear();
        starved_ticks = 0;
      }
    } else if (loop.received[1].size() == sent.size()) {
      for (uint16_t id : held) reactor().release_buffer(id);
      held.clear();
      loop.close(1);
    }
  };
  loop.closed_fn = [&](Token) { loop.stop(); };
  loop.run();
  EXPECT_FALSE(loop.timed_out) << loop.received[1].size() << " bytes received";
  EXPECT_LE(max_in_use, 8u);
  EXPECT_GT(rounds_exhausted, 1);
  EXPECT_GE(reactor().buffer_starvations(), 1u);  // the metric of ring exhaustion counted it
  EXPECT_EQ(reactor().socket_of(1), -1);           // closed
  EXPECT_TRUE(loop.received[1] == sent) << "bytes lost or reordered: got " << loop.received[1].size();
  EXPECT_EQ(reactor().buffers_in_use(), 0u);
}

TEST_P(ReactorTest, ConnectToAListener) {
  CREATE_OR_SKIP(ReactorOptions{});
  const SocketAddress addr = listen();
  Loop loop(reactor());
  loop.next_token = 10;  // accepted sockets: 10, 11, ...
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  reactor().connect(1, fd, addr.get(), addr.length);
  static const char kHello[] = "over the reactor";
  iovec iov{const_cast<char*>(kHello), sizeof kHello - 1};
  loop.connect_fn = [&](Token t, int result) {
    EXPECT_EQ(t, 1u);
    EXPECT_EQ(result, 0) << strerror(-result);
    if (result == 0) reactor().send(1, &iov, 1);
  };
  loop.tick_fn = [&](uint64_t) {
    if (loop.received[10] == kHello && !loop.closed_called[1]) {
      loop.close(1);
      loop.close(10);
    }
    if (loop.closed_calls[1] && loop.closed_calls[10]) loop.stop();
  };
  loop.run();
  EXPECT_FALSE(loop.timed_out);
  EXPECT_EQ(loop.connect_results.count(1), 1u);
  EXPECT_EQ(loop.received[10], kHello);
  EXPECT_EQ(loop.send_calls[1], 1);
}

TEST_P(ReactorTest, ConnectToAClosedPortFails) {
  CREATE_OR_SKIP(ReactorOptions{});
  // A port nobody listens on: bind one, learn it, close it.
  SocketAddress any;
  ASSERT_TRUE(parse_address("127.0.0.1:0", any, nullptr));
  std::string error;
  const int probe = open_listener(any, false, 1, &error);
  ASSERT_GE(probe, 0) << error;
  const SocketAddress dead = local_address(probe);
  ::close(probe);
  Loop loop(reactor());
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  reactor().connect(3, fd, dead.get(), dead.length);
  loop.connect_fn = [&](Token t, int result) {
    EXPECT_LT(result, 0);
    loop.close(t);
  };
  loop.closed_fn = [&](Token) { loop.stop(); };
  loop.run();
  EXPECT_FALSE(loop.timed_out);
  ASSERT_EQ(loop.connect_results.count(3), 1u);
  EXPECT_EQ(loop.connect_results[3], -ECONNREFUSED);
  EXPECT_EQ(loop.recv_end_calls[3], 0);
  EXPECT_EQ(loop.closed_calls[3], 1);
}

TEST_P(ReactorTest, StopFromTheHandlerEndsRun) {
  CREATE_OR_SKIP(ReactorOptions{});
  Loop loop(reactor());
  loop.tick_fn = [&](uint64_t) {
    if (loop.ticks == 3) loop.stop();
  };
  loop.run();
  EXPECT_FALSE(loop.timed_out);
  EXPECT_EQ(loop.ticks, 3u);
}

TEST_P(ReactorTest, StopFromAnotherThreadEndsRun) {
  CREATE_OR_SKIP(ReactorOptions{});
  Loop loop(reactor());
  std::atomic<bool> ticking{false};
  loop.tick_fn = [&](uint64_t) { ticking = true; };
  std::thread stopper([&] {
    while (!ticking) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    reactor().stop();
  });
  loop.run();
  stopper.join();
  EXPECT_FALSE(loop.timed_out);
}

TEST_P(ReactorTest, StopAcceptingLeavesNewConnectionsUnaccepted) {
  CREATE_OR_SKIP(ReactorOptions{});
  const SocketAddress addr = listen();
  client(addr);
  Loop loop(reactor());
  int phase = 0, wait = 0;
  loop.tick_fn = [&](uint64_t) {
    if (phase == 0 && loop.accepted_fds.size() == 1) {
      reactor().stop_accepting();
      phase = 1;
    } else if (phase == 1 && ++wait == 3) {
      client(addr);  // queued in the backlog, never accepted
      phase = 2;
    } else if (phase == 2 && ++wait == 40) {
      loop.close(1);
      phase = 3;
    }
  };
  loop.closed_fn = [&](Token) { loop.stop(); };
  loop.run();
  EXPECT_FALSE(loop.timed_out);
  EXPECT_EQ(loop.accepted_fds.size(), 1u);
}

TEST_P(ReactorTest, TokenIsReusableAfterOnClosed) {
  CREATE_OR_SKIP(ReactorOptions{});
  const SocketAddress addr = listen();
  const int first = client(addr);
  Loop loop(reactor());
  loop.accept_fn = [&](int fd) { reactor().open(1, fd); };  // always token 1
  int second = -1;
  loop.closed_fn = [&](Token t) {
    loop.closed_called[t] = false;  // the token lives again
    if (loop.closed_calls[1] == 1) {
      second = client(addr);
      ASSERT_EQ(::send(second, "again", 5, 0), 5);
    } else {
      loop.stop();
    }
  };
  loop.tick_fn = [&](uint64_t) {
    if (loop.accepted_fds.size() == 1 && loop.closed_calls[1] == 0 && !loop.closed_called[1]) loop.close(1);
    if (loop.received[1] == "again" && !loop.closed_called[1]) loop.close(1);
  };
  (void)first;
  loop.run();
  EXPECT_FALSE(loop.timed_out);
  EXPECT_EQ(loop.closed_calls[1], 2);
  EXPECT_EQ(loop.received[1], "again");
}

// 50 connections echoed at once, then closed: every byte comes back, every peer sees its end of
// stream. Under io_uring with registered_files = 8 the first tokens name their file table slot
// and the rest their fd: both kinds work side by side.
void ReactorTest::echo_many_then_close(const ReactorOptions& options) {
  if (!create(options)) GTEST_SKIP() << "no io_uring: " << skip_reason_;
  const SocketAddress addr = listen();
  constexpr int kClients = 50;
  std::vector<int> clients;
  for (int i = 0; i < kClients; ++i) clients.push_back(client(addr));
  Loop loop(reactor());
  // Echo: each receive is sent back from the buffer itself, released on on_send.
  std::map<Token, RecvBuffer> in_flight;
  std::map<Token, iovec> iovs;
  loop.recv_fn = [&](Token t, const RecvBuffer& b) {
    // Simple and strict: one send per socket, so pause reading while it is out.
    ASSERT_EQ(in_flight.count(t), 0u);
    in_flight[t] = b;
    iovs[t] = {b.data, b.size};
    reactor().pause_recv(t);
    reactor().send(t, &iovs[t], 1);
  };
  loop.send_fn = [&](Token t, int r) {
    RecvBuffer& b = in_flight[t];
    if (r == -EAGAIN || (r > 0 && size_t(r) < iovs[t].iov_len)) {
      if (r > 0) iovs[t] = {static_cast<char*>(iovs[t].iov_base) + r, iovs[t].iov_len - size_t(r)};
      reactor().send(t, &iovs[t], 1);
      return;
    }
    ASSERT_GT(r, 0);
    reactor().release_buffer(b.id);
    in_flight.erase(t);
    reactor().resume_recv(t);
  };
  std::vector<std::string> expect(kClients), got(kClients);
  for (int i = 0; i < kClients; ++i) {
    expect[size_t(i)] = pattern(20000 + size_t(i) * 97, uint32_t(i + 100));
    ASSERT_EQ(::send(clients[size_t(i)], expect[size_t(i)].data(), expect[size_t(i)].size(), 0),
              ssize_t(expect[size_t(i)].size()));
  }
  loop.tick_fn = [&](uint64_t) {
    bool all = true;
    for (int i = 0; i < kClients; ++i) {
      read_some(clients[size_t(i)], got[size_t(i)]);
      all = all && got[size_t(i)].size() >= expect[size_t(i)].size();
    }
    if (all && !loop.closed_called[1]) {
      for (Token t = 1; t <= kClients; ++t) loop.close(t);
    }
    bool closed = true;
    for (Token t = 1; t <= kClients; ++t) closed = closed && loop.closed_calls[t] == 1;
    if (closed) loop.stop();
  };
  loop.run();
  EXPECT_FALSE(loop.timed_out);
  for (int i = 0; i < kClients; ++i) EXPECT_TRUE(got[size_t(i)] == expect[size_t(i)]) << "client " << i;
  EXPECT_EQ(reactor().buffers_in_use(), 0u);
  for (int i = 0; i < kClients; ++i) {
    char byte;
    EXPECT_EQ(::recv(clients[size_t(i)], &byte, 1, MSG_DONTWAIT), 0) << "client " << i << ": no FIN";
  }
}

TEST_P(ReactorTest, ManyConnectionsEchoedConcurrently) { echo_many_then_close(ReactorOptions{}); }

TEST_P(ReactorTest, SocketsInAndBeyondTheRegisteredFileTableWorkAlike) {
  ReactorOptions options;
  options.registered_files = 8;
  echo_many_then_close(options);
}

// Every loop turn here ticks and queues more sends than the io_uring SQ holds, as a push tick to
// thousands of sockets does, so each wait finds completions in the CQ already: receives must
// still be delivered (regression: a DEFER_TASKRUN ring runs them only in an enter that asks for
// completions, and liburing asked for none while the CQ held some: the peer was never read).
TEST_P(ReactorTest, ReceivesWhileEveryTurnOverfillsTheSubmissionQueue) {
  // epoll has no submission queue: it sends at once.
  if (GetParam() != Backend::IoUring) {
    GTEST_SKIP() << "io_uring's submission queue";
  }
  ReactorOptions options;
  options.tick_ms = 0;  // a tick every turn
  std::string why;
  reactor_ = make_reactor(GetParam(), options, &why);
  if (!reactor_) {
    GTEST_SKIP() << "no io_uring: " << why;
  }
  const SocketAddress addr = listen();
  client(addr);                     // token 1: the target of the sends
  const int talker = client(addr);  // token 2: sends "hello" once the flood runs
  constexpr int kSendsPerTurn = 5000;  // more than the 4,096-entry SQ
  iovec nothing{const_cast<char*>(""), 0};  // zero-byte sends: each completes at once with 0
  Loop loop(reactor());
  uint64_t turns = 0;
  bool heard = false;
  loop.recv_fn = [&](Token t, const RecvBuffer& b) {
    loop.received[t].append(reinterpret_cast<const char*>(b.data), b.size);
    reactor().release_buffer(b.id);
    heard = heard || (t == 2 && loop.received[t] == "hello");
  };
  loop.tick_fn = [&](uint64_t) {
    if (heard) {
      loop.stop();
      return;
    }
    if (loop.next_token <= 2) return;  // not both accepted yet
    if (++turns == 3) {
      EXPECT_EQ(::send(talker, "hello", 5, 0), 5);
    }
    for (int i = 0; i < kSendsPerTurn; ++i) reactor().send(1, &nothing, 1);
  };
  loop.run(3000);
  EXPECT_GE(turns, 3u) << "the flood never started";
  EXPECT_TRUE(heard) << "the peer's bytes were not received in " << turns << " turns of sends";
  EXPECT_FALSE(loop.timed_out);
}

// The reactor owns the fds it was given (reactor.hpp): destroying it with sockets still
// open must not leak them (regression: neither backend closed them).
TEST_P(ReactorTest, DestroyingTheReactorClosesTheSocketsItOwns) {
  CREATE_OR_SKIP(ReactorOptions{});
  const SocketAddress addr = listen();
  client(addr);
  Loop loop(reactor());
  int fd = -1;
  loop.accept_fn = [&](int f) {
    fd = f;
    reactor().open(1, f);
    loop.stop();
  };
  loop.run();
  EXPECT_FALSE(loop.timed_out);
  ASSERT_GE(fd, 0);
  reactor_.reset();
  const bool leaked = fd_is_open(fd);
  if (leaked) ::close(fd);  // keep the fd check of TearDown about this test's finding only
  EXPECT_FALSE(leaked) << "fd " << fd << " still open after the reactor that owned it was destroyed";
}

INSTANTIATE_TEST_SUITE_P(Backends, ReactorTest, ::testing::Values(Backend::Epoll, Backend::IoUring),
                         [](const ::testing::TestParamInfo<Backend>& info) {
                           return std::string(info.param == Backend::Epoll ? "epoll" : "io_uring");
                         });

TEST(MakeReactor, AutoPicksABackendAndSaysWhy) {
  std::string why;
  auto r = make_reactor(Backend::Auto, ReactorOptions{}, &why);
  ASSERT_NE(r, nullptr) << why;
  EXPECT_FALSE(why.empty());
  EXPECT_NE(why.find(r->name()), std::string::npos) << why;
}

// Construction failures come back as nullptr and one line naming the resource, whatever
// the backend; never an exception or a termination.
void expect_refused(const ReactorOptions& options, const char* mentions) {
  for (Backend backend : {Backend::Auto, Backend::IoUring, Backend::Epoll}) {
    std::string why;
    std::unique_ptr<Reactor> r;
    EXPECT_NO_THROW(r = make_reactor(backend, options, &why)) << backend_name(backend);
    EXPECT_EQ(r, nullptr) << backend_name(backend);
    EXPECT_NE(why.find(mentions), std::string::npos) << backend_name(backend) << ": " << why;
    EXPECT_EQ(why.find('\n'), std::string::npos) << "one line: " << why;
  }
}

TEST(MakeReactor, ABufferCountThatIsNotAPowerOfTwoIsAnError) {
  ReactorOptions options;
  options.recv_buffer_count = 1000;
  expect_refused(options, "receive buffer count 1000 is not a power of two");
  options.recv_buffer_count = 0;
  expect_refused(options, "receive buffer count 0");
  options.recv_buffer_count = 65536;
  expect_refused(options, "receive buffer count 65536");
}

TEST(MakeReactor, ABufferSizeWithoutRoomForDataIsAnError) {
  ReactorOptions options;
  options.recv_buffer_size = uint32_t(kRecvHeadroom);
  expect_refused(options, "receive buffer size");
  options.recv_buffer_size = (1u << 30) + 1;
  expect_refused(options, "receive buffer size");
}

TEST(MakeReactor, AnAbsurdSlabOfBuffersIsAnError) {
  // 32768 x 1 GiB = 32 TiB: more than any machine's memory, refused by mmap unless the
  // kernel is told to overcommit without limit.
  if (FILE* f = fopen("/proc/sys/vm/overcommit_memory", "r")) {
    int mode = 0;
    const bool read = fscanf(f, "%d", &mode) == 1;
    fclose(f);
    if (read && mode == 1) GTEST_SKIP() << "vm.overcommit_memory = 1: the kernel would map 32 TiB";
  }
  ReactorOptions options;
  options.recv_buffer_size = 1u << 30;
  options.recv_buffer_count = 32768;
  expect_refused(options, "cannot map the receive buffers (32768 x 1 GiB = 32 TiB)");
}

// tick_ms = 0 (wsring-load --rate): the loop polls without sleeping and ticks every turn.
TEST(MakeReactor, ATickOfZeroPollsAndTicksEveryTurn) {
  for (Backend backend : {Backend::Epoll, Backend::IoUring}) {
    ReactorOptions options;
    options.tick_ms = 0;
    std::string why;
    auto r = make_reactor(backend, options, &why);
    if (!r) {
      EXPECT_EQ(backend, Backend::IoUring) << why;
      continue;
    }
    Loop loop(*r);
    loop.tick_fn = [&](uint64_t) {
      if (loop.ticks == 1000) loop.stop();
    };
    const uint64_t started = monotonic_ms();
    loop.run();
    EXPECT_FALSE(loop.timed_out) << backend_name(backend);
    EXPECT_EQ(loop.ticks, 1000u) << backend_name(backend);
    EXPECT_LT(monotonic_ms() - started, 5000u) << backend_name(backend) << ": 1000 turns should not sleep";
  }
}

TEST(MakeReactor, BackendNames) {
  EXPECT_STREQ(backend_name(Backend::Auto), "auto");
  EXPECT_STREQ(backend_name(Backend::IoUring), "io_uring");
  EXPECT_STREQ(backend_name(Backend::Epoll), "epoll");
}

}  // namespace
}  // namespace wsring::net
