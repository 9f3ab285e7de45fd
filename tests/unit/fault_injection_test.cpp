// Fault injection in the spirit of a fail-count loop: a scenario (two connections that
// upgrade, exchange a few messages and close) is run again and again; in run n the n-th
// reactor operation it performs (an accept, a receive, a send completion) fails instead of
// succeeding. The loop ends with the first n whose run completes without reaching the
// fault. After every run the server must have closed every connection and given back every
// receive buffer, the reactor contract must hold, and the connection that saw no fault must
// have got its whole echo. At the end, the server's own buffer pools are probed to prove
// that none of the runs leaked one.
#include "server/echo_app.hpp"
#include "server/engine.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "net/socket.hpp"
#include "tests/fault/fake_reactor.hpp"
#include "tests/fault/wire.hpp"

namespace wsring::server {
namespace {

using net::Token;
using fakes::FakeReactor;
using namespace wsring::fakes;

constexpr uint8_t kText = 1, kBinary = 2, kClose = 8, kPing = 9, kPong = 10;

enum class Ending { ClientCloses, ProtocolError, PeerVanishes };

// Performs the scenario's reactor operations, failing the fail_at-th one.
class FaultyDriver {
 public:
  FaultyDriver(FakeReactor& fake, int64_t fail_at) : fake_(fake), fail_at_(fail_at) {}

  bool fault_hit() const { return hit_; }
  int64_t faulted_token() const { return faulted_token_; }
  int64_t operations() const { return count_; }

  int64_t accept() {
    const int64_t t = fake_.accept();
    if (t >= 0 && fault(Token(t))) fake_.end_stream(Token(t), -ECONNRESET);  // the peer was gone already
    return t;
  }
  void deliver(Token t, const std::string& bytes) {
    if (!fake_.can_receive(t)) return;
    if (fault(t)) {
      fake_.end_stream(t, count_ % 2 ? -ECONNRESET : 0);
      return;
    }
    EXPECT_TRUE(fake_.deliver(t, bytes)) << "no receive buffer free";
  }
  void complete(Token t, size_t max_bytes = SIZE_MAX) {
    if (!fake_.sending(t)) return;
    if (fault(t)) {
      fake_.fail_send(t, count_ % 2 ? EPIPE : ECONNRESET);
      return;
    }
    fake_.complete_send(t, max_bytes);
  }
  void full_socket(Token t) {  // the send finds the peer's socket full
    if (!fake_.sending(t)) return;
    if (fault(t)) {
      fake_.fail_send(t, ECONNRESET);
      return;
    }
    fake_.fail_send(t, EAGAIN);
  }
  void drain(Token t, size_t max_bytes = SIZE_MAX) {
    for (int i = 0; i < 100000 && fake_.sending(t); ++i) complete(t, max_bytes);
  }

 private:
  bool fault(Token t) {
    if (count_++ != fail_at_) return false;
    hit_ = true;
    faulted_token_ = t;
    return true;
  }

  FakeReactor& fake_;
  int64_t fail_at_;
  int64_t count_ = 0;
  bool hit_ = false;
  int64_t faulted_token_ = -1;
};

class FaultInjectionTest : public ::testing::TestWithParam<Ending> {
 protected:
  void SetUp() override {
    fake_ = std::make_unique<FakeReactor>(FakeReactor::Options{64, 4096});
    server_ = std::make_unique<Engine>(config_, *fake_, -1, shared_, log_, echo_);
    fake_->attach(*server_);
    server_->on_tick(net::monotonic_ms());
  }

  // One run of the scenario with the fail_at-th operation failing. Returns false once the
  // run completed without reaching the fault.
  bool run_once(int64_t fail_at) {
    FaultyDriver d(*fake_, fail_at);
    const std::string request = upgrade_request();
    const std::string big = client_frame(kBinary, std::string(1500, 'B'));
    const std::string ping = client_frame(kPing, "p");
    std::string ending;
    switch (GetParam()) {
      case Ending::ClientCloses: ending = client_frame(kClose, close_payload(1000)); break;
      case Ending::ProtocolError: ending = client_frame(kText, "unmasked", true, false); break;
      case Ending::PeerVanishes: break;
    }

    const int64_t a = d.accept(), b = d.accept();
    EXPECT_GE(a, 0);
    EXPECT_GE(b, 0);
    if (a < 0 || b < 0) return false;
    const Token ta = Token(a), tb = Token(b);
    const Token both[2] = {ta, tb};
    for (Token t : both) d.deliver(t, request.substr(0, 40));  // a head in two pieces
    for (Token t : both) d.deliver(t, request.substr(40) + client_frame(kText, "hello"));
    for (Token t : both) d.drain(t, 7);  // short sends
    for (Token t : both) d.deliver(t, big.substr(0, 500));  // a frame in two pieces
    for (Token t : both) d.deliver(t, big.substr(500) + ping);
    for (Token t : both) d.full_socket(t);
    for (Token t : both) d.drain(t);
    for (Token t : both) d.deliver(t, client_frame(kText, "last"));
    for (Token t : both) d.drain(t);
    if (!ending.empty())
      for (Token t : both) d.deliver(t, ending);
    for (Token t : both) d.drain(t);

    // The unfaulted connection got its whole echo (checked before the peer goes away).
    for (Token t : both) {
      if (d.fault_hit() && d.faulted_token() == int64_t(t)) continue;
      SCOPED_TRACE("connection " + std::to_string(t) + " saw no fault");
      std::string_view head, rest, leftover;
      split_head(fake_->at(t).wire, head, rest);
      EXPECT_NE(head.find(kSampleAccept), std::string_view::npos);
      const auto frames = parse_frames(rest, &leftover);
      EXPECT_TRUE(leftover.empty());
      EXPECT_EQ(messages(frames), (std::vector<std::string>{"hello", std::string(1500, 'B'), "last"}));
      size_t pongs = 0;
      for (const ServerFrame& f : frames) pongs += f.opcode == kPong;
      EXPECT_EQ(pongs, 1u);
      if (!ending.empty() && !frames.empty()) {
        EXPECT_EQ(frames.back().opcode, kClose);
        EXPECT_EQ(frames.back().close_code(), GetParam() == Ending::ClientCloses ? 1000 : 1002);
      }
    }

    // The peers go away; whatever the server still waits for, it must let go.
    for (Token t : both) {
      fake_->drain_sends(t);
      if (fake_->at(t).open && !fake_->close_pending(t)) fake_->end_stream(t, 0);
      fake_->drain_sends(t);
    }
    fake_->finish_closes();
    if (server_->open_connections() != 0) {  // e.g. waiting for a close reply: time passes
      server_->on_tick(net::monotonic_ms() + 3600 * 1000);
      fake_->finish_closes();
    }
    EXPECT_EQ(server_->open_connections(), 0u);
    EXPECT_EQ(shared_.connections.load(), 0u);
    EXPECT_EQ(fake_->buffers_in_use(), 0u);
    EXPECT_EQ(fake_->lent_count(), fake_->released_count());
    EXPECT_TRUE(fake_->violations().empty()) << fake_->violations_text();
    for (Token t : both) EXPECT_FALSE(fake_->at(t).open) << "connection " << t << " never closed";
    last_operations_ = d.operations();
    return d.fault_hit();
  }

  Config config_;
  Logger log_{LogLevel::Error};
  SharedState shared_;
  std::unique_ptr<FakeReactor> fake_;
  EchoApp echo_;
  std::unique_ptr<Engine> server_;
  int64_t last_operations_ = 0;
};

// Opens connections that take one buffer of a server pool each and never let go, until the
// server reports the pool exhausted; returns how many it took, then closes them all.
// gather: a request head that is never completed (gather pool); else a whole upgrade
// request whose 101 is never sent (write pool).
// (An exhausted gather pool shows as an evicted request: the oldest gives its buffer up.)
size_t probe_pool(FakeReactor& fake, Engine& server, bool gather) {
  auto exhaustion = [&] { return gather ? server.stats().requests_evicted : server.stats().pool_exhausted; };
  const uint64_t exhausted = exhaustion();
  std::vector<Token> open;
  size_t taken = 0;
  while (exhaustion() == exhausted && taken < 100000) {
    const int64_t t = fake.accept();
    if (t < 0) break;
    open.push_back(Token(t));
    fake.deliver(Token(t), gather ? std::string("GET / HTTP/1.1\r\n") : upgrade_request());
    if (exhaustion() == exhausted) ++taken;
  }
  for (Token t : open) fake.end_stream(t, -ECONNRESET);
  fake.finish_closes();
  EXPECT_EQ(server.open_connections(), 0u);
  return taken;
}

TEST_P(FaultInjectionTest, EveryFailurePointLeavesNoLeak) {
  int64_t n = 0;
  for (; n < 10000; ++n) {
    SCOPED_TRACE("operation " + std::to_string(n) + " fails");
    if (!run_once(n)) break;
    if (::testing::Test::HasFailure()) break;  // one failing point is enough to report
  }
  if (HasFailure()) return;
  EXPECT_LT(n, 10000) << "the scenario never completed without a fault";
  EXPECT_EQ(n, last_operations_) << "the last run performed every operation without the fault";
  EXPECT_GT(n, 20) << "the scenario should offer many failure points";

  // None of the runs may have leaked a buffer of the server's own pools: the server that
  // went through them all has exactly the capacity of a fresh one.
  const size_t write_capacity = probe_pool(*fake_, *server_, false);
  const size_t gather_capacity = probe_pool(*fake_, *server_, true);
  Config fresh_config;
  SharedState fresh_shared;
  FakeReactor fresh_fake(FakeReactor::Options{64, 4096});
  EchoApp fresh_echo;
  Engine fresh(fresh_config, fresh_fake, -1, fresh_shared, log_, fresh_echo);
  fresh_fake.attach(fresh);
  EXPECT_EQ(write_capacity, probe_pool(fresh_fake, fresh, false)) << "write pool buffers leaked";
  EXPECT_EQ(gather_capacity, probe_pool(fresh_fake, fresh, true)) << "gather pool buffers leaked";
  EXPECT_GT(write_capacity, 0u);
  EXPECT_GT(gather_capacity, 0u);
  EXPECT_TRUE(fake_->violations().empty()) << fake_->violations_text();
}

INSTANTIATE_TEST_SUITE_P(Endings, FaultInjectionTest,
                         ::testing::Values(Ending::ClientCloses, Ending::ProtocolError, Ending::PeerVanishes),
                         [](const ::testing::TestParamInfo<Ending>& info) {
                           switch (info.param) {
                             case Ending::ClientCloses: return std::string("ClientCloses");
                             case Ending::ProtocolError: return std::string("ProtocolError");
                             case Ending::PeerVanishes: return std::string("PeerVanishes");
                           }
                           return std::string("?");
                         });

}  // namespace
}  // namespace wsring::server
