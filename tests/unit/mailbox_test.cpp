#include "net/mailbox.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "net/reactor.hpp"

namespace wsring::net {
namespace {

TEST(Mailbox, FifoAndBounded) {
  Mailbox m(4);
  uint64_t v = 0;
  EXPECT_FALSE(m.pop(v));
  for (uint64_t i = 1; i <= 4; ++i) EXPECT_TRUE(m.push(i));
  EXPECT_FALSE(m.push(5));  // full
  for (uint64_t i = 1; i <= 4; ++i) {
    ASSERT_TRUE(m.pop(v));
    EXPECT_EQ(v, i);
  }
  EXPECT_FALSE(m.pop(v));
  EXPECT_TRUE(m.push(6));  // wraps around
  ASSERT_TRUE(m.pop(v));
  EXPECT_EQ(v, 6u);
}

// Several producers at once: nothing lost or duplicated, each producer's values in its order.
TEST(Mailbox, ManyProducersKeepTheirOrder) {
  constexpr uint64_t kPerProducer = 20000;
  constexpr int kProducers = 3;
  Mailbox m(1024);
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p)
    producers.emplace_back([&m, p] {
      for (uint64_t i = 0; i < kPerProducer;)
        if (m.push((uint64_t(p) << 32) | i)) ++i;
        else std::this_thread::yield();
    });
  std::vector<uint64_t> next(kProducers, 0);
  uint64_t received = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (received < kPerProducer * kProducers && std::chrono::steady_clock::now() < deadline) {
    uint64_t v = 0;
    if (!m.pop(v)) continue;
    const size_t p = size_t(v >> 32);
    ASSERT_LT(p, next.size());
    ASSERT_EQ(v & 0xffffffffu, next[p]) << "producer " << p;
    ++next[p];
    ++received;
  }
  for (std::thread& t : producers) t.join();
  EXPECT_EQ(received, kPerProducer * kProducers);
}

// Reactor::post between two reactors on two threads, both backends: every value arrives on the
// target's thread, in order, promptly (the wake, not the tick, brings it).
struct PostLoop : EventHandler {
  Reactor* reactor = nullptr;
  Reactor* target = nullptr;
  std::thread::id thread;
  uint64_t to_send = 0, sent = 0, expected = 0, received = 0;
  bool wrong_thread = false, out_of_order = false;
  std::atomic<bool>* done = nullptr;
  uint64_t deadline = 0;
  void on_accept(int fd, int) override { ::close(fd); }
  void on_recv(Token, const RecvBuffer&) override {}
  void on_recv_end(Token, int) override {}
  void on_send(Token, int) override {}
  void on_closed(Token) override {}
  void on_message(uint64_t value) override {
    if (std::this_thread::get_id() != thread) wrong_thread = true;
    if (value != received) out_of_order = true;
    ++received;
    if (received == expected) reactor->stop();
  }
  void on_tick(uint64_t now) override {
    if (!deadline) deadline = now + 20000;
    while (target && sent < to_send && reactor->post(*target, sent)) ++sent;
    if ((target && sent == to_send && done->load()) || now > deadline) reactor->stop();
  }
};

void post_between_threads(Backend backend) {
  std::string why;
  std::unique_ptr<Reactor> receiver_reactor;
  std::atomic<bool> ready{false}, done{false};
  PostLoop receiver;
  receiver.expected = 100000;
  receiver.done = &done;
  std::thread receiving([&] {
    ReactorOptions o;
    o.recv_buffer_count = 8;
    o.recv_buffer_size = 4096;
    o.tick_ms = 1000;  // a slow tick: delivery must come from the wake
    receiver_reactor = make_reactor(backend, o, &why);
    receiver.reactor = receiver_reactor.get();
    receiver.thread = std::this_thread::get_id();
    ready = true;
    if (receiver_reactor) receiver_reactor->run(receiver);
    done = true;
  });
  while (!ready) std::this_thread::yield();
  ASSERT_NE(receiver_reactor, nullptr) << why;
  ReactorOptions o;
  o.recv_buffer_count = 8;
  o.recv_buffer_size = 4096;
  o.tick_ms = 1;
  auto sender_reactor = make_reactor(backend, o, &why);
  ASSERT_NE(sender_reactor, nullptr) << why;
  PostLoop sender;
  sender.reactor = sender_reactor.get();
  sender.target = receiver_reactor.get();
  sender.to_send = receiver.expected;
  sender.done = &done;
  sender_reactor->run(sender);
  receiving.join();
  EXPECT_EQ(sender.sent, receiver.expected);
  EXPECT_EQ(receiver.received, receiver.expected);
  EXPECT_FALSE(receiver.wrong_thread);
  EXPECT_FALSE(receiver.out_of_order);
}

TEST(ReactorPost, IoUring) { post_between_threads(Backend::IoUring); }
TEST(ReactorPost, Epoll) { post_between_threads(Backend::Epoll); }

}  // namespace
}  // namespace wsring::net
