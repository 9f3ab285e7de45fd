#include "server/engine.hpp"

// The engine's TLS transport over the fake reactor: real TLS client sessions talk to the engine
// through lent receive buffers. Here: the per-turn budget of handshake work.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "net/socket.hpp"
#include "server/echo_app.hpp"
#include "tests/fault/fake_reactor.hpp"
#include "tests/fault/wire.hpp"
#include "tests/unit/tls_test_support.hpp"

namespace wsring::server {
namespace {

using fakes::FakeReactor;
using net::Token;
constexpr int kTlsListener = 1000;  // the listening fd the fake says a connection came from
const unsigned kBudget = Config().tls_handshakes_per_turn;  // the default

// A client of the engine: its session, and how much of what the server sent it has read.
struct Client {
  Token token = 0;
  TlsSession session;
  VectorSink out;
  std::string plain;
  size_t wire_read = 0;
};

class EngineTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    shared.tls.context = tls_test::server_context(tls_test::pki().ec_cert, tls_test::pki().ec_key);
    make_server();
  }
  void make_server() {
    server.reset();
    fake = std::make_unique<FakeReactor>();
    server = std::make_unique<Engine>(config, *fake, -1, shared, log, echo);
    server->add_tls_listener(kTlsListener, false);
    fake->attach(*server);
    server->on_tick(net::monotonic_ms());
  }

  // Accepts a wss connection and delivers its ClientHello.
  std::unique_ptr<Client> hello() {
    auto c = std::make_unique<Client>();
    const int64_t t = fake->accept(kTlsListener);
    EXPECT_GE(t, 0);
    c->token = Token(t < 0 ? 0 : t);
    c->session = TlsSession::client(client_context, "localhost");
    EXPECT_TRUE(c->session.start(c->out));
    send_to_server(*c);
    return c;
  }
  void send_to_server(Client& c) {
    const auto bytes = c.out.bytes();
    EXPECT_TRUE(fake->deliver(c.token, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size())));
    c.out.clear();
  }
  // Bytes the server has handed to the fake for c (sent or in flight) since the last look.
  bool server_answered(const Client& c) { return fake->in_flight_bytes(c.token) > 0 || fake->at(c.token).wire.size() > c.wire_read; }
  // Completes the server's sends to c and feeds them to c's session.
  void receive_from_server(Client& c) {
    fake->drain_sends(c.token);
    const std::string& wire = fake->at(c.token).wire;
    std::span<const uint8_t> input(reinterpret_cast<const uint8_t*>(wire.data()) + c.wire_read, wire.size() - c.wire_read);
    c.wire_read = wire.size();
    std::vector<uint8_t> plain(65536);
    for (int i = 0; i < 100; ++i) {
      const TlsReadResult r = c.session.read(input, plain, c.out);
      c.plain.append(reinterpret_cast<const char*>(plain.data()), r.plaintext);
      if (r.status != TlsStatus::PlainFull) break;
    }
  }
  // Finishes c's handshake (the server's step for its Finished runs at the turn's end) and its
  // WebSocket upgrade.
  void establish(Client& c) {
    receive_from_server(c);
    ASSERT_TRUE(c.session.established()) << c.session.describe();
    const std::string request = fakes::upgrade_request();
    ASSERT_TRUE(c.session.encrypt(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(request.data()), request.size()), c.out));
    send_to_server(c);
    server->on_turn_end();
    receive_from_server(c);
    ASSERT_NE(c.plain.find("101 Switching Protocols"), std::string::npos) << c.plain;
    c.plain.clear();
  }
  void send_text(Client& c, std::string_view text) {
    const std::string frame = fakes::client_frame(1, text);
    ASSERT_TRUE(c.session.encrypt(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(frame.data()), frame.size()), c.out));
    send_to_server(c);
  }

  Config config;
  Logger log{LogLevel::Error};
  SharedState shared;
  EchoApp echo;
  TlsContext client_context = tls_test::client_context();
  std::unique_ptr<FakeReactor> fake;
  std::unique_ptr<Engine> server;
};

TEST_F(EngineTlsTest, HandshakeStepsWaitForTheTurnsEndAndOverTheBudgetForLaterTurnsInOrder) {
  server->on_turn_end();  // a fresh turn
  std::vector<std::unique_ptr<Client>> clients;
  for (unsigned i = 0; i < 2 * kBudget + 1; ++i) clients.push_back(hello());
  for (unsigned i = 0; i < clients.size(); ++i) EXPECT_FALSE(server_answered(*clients[i])) << "client " << i;
  EXPECT_EQ(server->stats().tls_handshakes_deferred, kBudget + 1) << "those behind a turn's budget";
  EXPECT_EQ(fake->buffers_in_use(), 0u) << "a waiting handshake holds its bytes, not the receive buffer";

  EXPECT_TRUE(server->on_turn_end()) << "more connections wait";
  for (unsigned i = 0; i < clients.size(); ++i)
    EXPECT_EQ(server_answered(*clients[i]), i < kBudget) << "client " << i << " after the first turn's end";
  EXPECT_TRUE(server->on_turn_end()) << "one connection still waits";
  for (unsigned i = 0; i < clients.size(); ++i)
    EXPECT_EQ(server_answered(*clients[i]), i < 2 * kBudget) << "client " << i << " after the second";
  EXPECT_FALSE(server->on_turn_end());
  for (auto& c : clients) {
    ASSERT_TRUE(server_answered(*c));
    establish(*c);  // the held ClientHellos were kept whole
    send_text(*c, "hello");
    receive_from_server(*c);
    EXPECT_EQ(fakes::messages(fakes::parse_frames(c->plain)), std::vector<std::string>{"hello"});
  }
  EXPECT_EQ(server->stats().tls_handshakes, clients.size());
}

// The turn's replies to established connections are started before a handshake step holds the
// thread: under io_uring they would otherwise leave only after it (a few hundred microseconds).
TEST_F(EngineTlsTest, EstablishedConnectionIsAnsweredBeforeTheTurnsHandshakeSteps) {
  server->on_turn_end();
  auto established = hello();
  server->on_turn_end();
  establish(*established);
  std::vector<std::unique_ptr<Client>> flood;
  for (unsigned i = 0; i < 3 * kBudget; ++i) flood.push_back(hello());
  send_text(*established, "still here");  // in the same turn as the flood, after it
  for (auto& c : flood) EXPECT_FALSE(server_answered(*c)) << "no handshake step inside the turn";
  ASSERT_GT(fake->in_flight_bytes(established->token), 0u) << "the echo is queued at once";
  const size_t starts = fake->queued_starts();
  EXPECT_TRUE(server->on_turn_end());
  EXPECT_EQ(fake->queued_starts(), starts + 1);
  EXPECT_TRUE(fake->send_was_started(established->token)) << "the echo was started before the steps";
  for (auto& c : flood) EXPECT_FALSE(fake->send_was_started(c->token));
  unsigned answered = 0;
  for (auto& c : flood) answered += server_answered(*c);
  EXPECT_EQ(answered, kBudget) << "then the turn's budget of handshake steps";
  receive_from_server(*established);
  EXPECT_EQ(fakes::messages(fakes::parse_frames(established->plain)), std::vector<std::string>{"still here"});
  for (int turn = 0; turn < 10 && server->on_turn_end(); ++turn) {
  }
  for (auto& c : flood) EXPECT_TRUE(server_answered(*c));
}

// A ClientHello then end of stream can never become a handshake: it costs no handshake work.
TEST_F(EngineTlsTest, WaitingClientHelloThenEndOfStreamIsNotWorkedOn) {
  server->on_turn_end();
  auto c = hello();
  ASSERT_FALSE(server_answered(*c));
  fake->end_stream(c->token, 0);
  EXPECT_FALSE(server_answered(*c));
  EXPECT_TRUE(fake->close_pending(c->token));
  EXPECT_EQ(server->stats().tls_failures[size_t(TlsError::EofInHandshake)], 1u);
  const size_t starts = fake->queued_starts();
  EXPECT_FALSE(server->on_turn_end()) << "its queue entry is stale and skipped";
  EXPECT_EQ(fake->queued_starts(), starts + 1);
  EXPECT_EQ(server->stats().tls_handshakes, 0u);
}

// A later step (the client's Finished and its upgrade request) held, then end of stream: the
// held bytes are served first.
TEST_F(EngineTlsTest, WaitingLaterStepIsRunBeforeItsEndOfStream) {
  server->on_turn_end();
  auto c = hello();
  server->on_turn_end();
  receive_from_server(*c);
  ASSERT_TRUE(c->session.established());
  const std::string request = fakes::upgrade_request();
  ASSERT_TRUE(c->session.encrypt(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(request.data()), request.size()), c->out));
  send_to_server(*c);
  EXPECT_EQ(server->stats().tls_handshakes, 0u) << "its step waits for the turn's end";
  fake->end_stream(c->token, 0);
  EXPECT_EQ(server->stats().tls_handshakes, 1u);
  receive_from_server(*c);
  EXPECT_NE(c->plain.find("101 Switching Protocols"), std::string::npos) << c->plain;
}

TEST_F(EngineTlsTest, DeferredConnectionStillTimesOutAndIsForgotten) {
  config.handshake_timeout_s = 1;
  server->on_turn_end();
  std::vector<std::unique_ptr<Client>> clients;
  for (unsigned i = 0; i < kBudget + 2; ++i) clients.push_back(hello());
  server->on_tick(net::monotonic_ms() + 5000);  // every handshake timed out
  fake->finish_closes();
  EXPECT_FALSE(server->on_turn_end());
  EXPECT_EQ(server->open_connections(), 0u);
  EXPECT_EQ(fake->buffers_in_use(), 0u);
  EXPECT_EQ(server->stats().tls_handshakes, 0u);
}

TEST_F(EngineTlsTest, NotTlsIsRefusedAtOnceEvenOverTheBudget) {
  server->on_turn_end();
  std::vector<std::unique_ptr<Client>> clients;
  for (unsigned i = 0; i < kBudget; ++i) clients.push_back(hello());
  const int64_t t = fake->accept(kTlsListener);
  ASSERT_GE(t, 0);
  ASSERT_TRUE(fake->deliver(Token(t), "GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(server->stats().tls_failures[size_t(TlsError::NotTls)], 1u);
  EXPECT_EQ(server->stats().tls_handshakes_deferred, 0u);
}

TEST_F(EngineTlsTest, ZeroBudgetMeansNoBound) {
  config.tls_handshakes_per_turn = 0;
  make_server();
  server->on_turn_end();
  std::vector<std::unique_ptr<Client>> clients;
  for (unsigned i = 0; i < 3 * kBudget; ++i) clients.push_back(hello());
  for (auto& c : clients) EXPECT_TRUE(server_answered(*c)) << "steps run at once";
  EXPECT_EQ(server->stats().tls_handshakes_deferred, 0u);
  EXPECT_FALSE(server->on_turn_end());
}

}  // namespace
}  // namespace wsring::server
