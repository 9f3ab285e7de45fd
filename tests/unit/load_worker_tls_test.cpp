// wsring-load's TLS layer (bench/load/worker_tls.cpp) without sockets: a LoadWorker on the
// FakeReactor against a server played here with a real server TlsSession (the test PKI of
// tls_test_support.hpp). The server decrypts what the worker sent, answers the upgrade, echoes
// messages, and its ciphertext is delivered in receive buffers of any size.
#include "bench/load/worker.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "tests/fault/fake_reactor.hpp"
#include "tests/fault/load_worker_harness.hpp"
#include "tests/fault/wire.hpp"
#include "tests/unit/tls_test_support.hpp"

using namespace wsring;
using namespace wsring::load;
using fakes::FakeReactor;
using fakes::ServerFrame;
using server::TlsError;
using server::TlsStatus;

namespace {

LoadOptions wss_options(uint32_t connections = 1, uint32_t pipeline = 1) {
  LoadOptions o;
  o.url_text = "wss://127.0.0.1:9/";
  parse_ws_url(o.url_text, o.url, nullptr);
  o.connections = connections;
  o.pipeline = pipeline;
  o.size_min = o.size_max = 32;
  return o;
}

server::TlsContext client_context(server::TlsVersion max = server::TlsVersion::Tls13) {
  server::TlsClientOptions options;
  options.max_version = max;
  return tls_test::client_context(options);  // trusts the test CA
}

server::TlsContext server_context(const std::string& cert = tls_test::pki().ec_cert) {
  return tls_test::server_context(cert, tls_test::pki().ec_key);
}

// The server's side of one connection's current life.
struct TlsPeer {
  uint64_t life = 0;
  server::TlsSession session;
  server::VectorSink out;          // ciphertext not yet delivered to the worker
  size_t wire_read = 0;            // ciphertext of the socket's wire fed to the session
  std::string plain;               // decrypted, not yet parsed
  TlsStatus status = TlsStatus::NeedInput;
  bool head_seen = false;
  std::string key;
  std::deque<ServerFrame> data;    // client data frames not yet echoed
  std::vector<int> close_codes;
  bool upgraded = false;
};

class TlsHarness {
 public:
  TlsHarness(const LoadOptions& options, server::TlsContext client_ctx, server::TlsContext server_ctx)
      : options_(options), server_ctx_(std::move(server_ctx)), fake_(reactor_options()) {
    net::parse_address(options_.url.address, plan_.target, nullptr);
    plan_.tls = std::move(client_ctx);
    run_.epoch_ns = uint64_t(net::monotonic_us()) * 1000;
    worker_ = std::make_unique<LoadWorker>(options_, plan_, run_, live_, fake_);
    fake_.attach(*worker_);
  }

  static FakeReactor::Options reactor_options() {
    FakeReactor::Options o;
    o.buffer_count = 16;
    o.buffer_capacity = 4096;
    o.clients = true;
    return o;
  }

  void tick(uint64_t advance_ns = 0) {
    run_.epoch_ns -= advance_ns;
    worker_->on_tick(0);
  }
  void set_phase(RunPhase phase, uint64_t drain_wait_ns = 3'000'000'000) {
    if (phase == RunPhase::Running) run_.steady_start_ns.store(load::run_clock_ns(run_));
    if (phase == RunPhase::Draining) run_.drain_deadline_ns.store(load::run_clock_ns(run_) + drain_wait_ns);
    run_.phase.store(int(phase), std::memory_order_release);
    worker_->on_tick(0);
  }

  TlsPeer& peer(net::Token t) {
    if (t >= peers_.size()) peers_.resize(size_t(t) + 1);
    TlsPeer& p = peers_[t];
    const uint64_t life = t < fake_.socket_count() ? fake_.at(t).life : 0;
    if (p.life != life) {
      p = TlsPeer{};
      p.life = life;
      p.session = server::TlsSession::server(server_ctx_);
    }
    return p;
  }

  // Completes the worker's sends (at most `send_chunk` bytes each) and feeds the new
  // ciphertext to the server's session; parses what it decrypted.
  TlsPeer& read_client(net::Token t, size_t send_chunk = SIZE_MAX) {
    for (int i = 0; i < 100000 && fake_.complete_send(t, send_chunk); ++i) {
    }
    TlsPeer& p = peer(t);
    const std::string& wire = fake_.at(t).wire;
    std::span<const uint8_t> input(reinterpret_cast<const uint8_t*>(wire.data()) + p.wire_read, wire.size() - p.wire_read);
    p.wire_read = wire.size();
    std::vector<uint8_t> plain(16384);
    for (int round = 0; round < 10000; ++round) {
      const server::TlsReadResult r = p.session.read(input, plain, p.out);
      p.plain.append(reinterpret_cast<const char*>(plain.data()), r.plaintext);
      p.status = r.status;
      if (r.status != TlsStatus::PlainFull) break;
    }
    parse_plain(t, p);
    return p;
  }

  // Delivers the server's pending ciphertext in receives of at most `chunk` bytes.
  bool send_server(net::Token t, size_t chunk = SIZE_MAX) {
    TlsPeer& p = peer(t);
    std::string bytes(reinterpret_cast<const char*>(p.out.bytes().data()), p.out.bytes().size());
    p.out.clear();
    chunk = std::max<size_t>(1, std::min<size_t>(chunk, 4096));
    for (size_t pos = 0; pos < bytes.size(); pos += chunk)
      if (!fake_.deliver(t, std::string_view(bytes).substr(pos, chunk))) return false;
    return true;
  }
  bool server_writes(net::Token t, std::string_view plaintext) {
    return peer(t).session.encrypt({reinterpret_cast<const uint8_t*>(plaintext.data()), plaintext.size()}, peer(t).out);
  }

  // Connect, TLS handshake and upgrade on t, ciphertext in receives of `chunk` bytes.
  bool open(net::Token t, size_t chunk = SIZE_MAX, size_t send_chunk = SIZE_MAX) {
    if (!fake_.complete_connect(t, 0)) return false;
    for (int flight = 0; flight < 4 && !peer(t).head_seen; ++flight) {
      read_client(t, send_chunk);
      if (!fake_.can_receive(t) || !send_server(t, chunk)) return false;
    }
    TlsPeer& p = read_client(t, send_chunk);
    if (!p.head_seen || p.key.empty()) return false;
    server_writes(t, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: " + fakes::websocket_accept(p.key) + "\r\n\r\n");
    p.upgraded = send_server(t, chunk);
    return p.upgraded;
  }
  void open_all(size_t chunk = SIZE_MAX, size_t send_chunk = SIZE_MAX) {
    for (net::Token t = 0; t < fake_.socket_count(); ++t)
      if (fake_.connecting(t)) {
        EXPECT_TRUE(open(t, chunk, send_chunk)) << "connection " << t;
      }
  }

  size_t echo_all(net::Token t, size_t chunk = SIZE_MAX, size_t send_chunk = SIZE_MAX) {
    size_t echoed = 0;
    for (int round = 0; round < 64; ++round) {
      TlsPeer& p = read_client(t, send_chunk);
      if (p.data.empty()) break;
      for (; !p.data.empty(); p.data.pop_front(), ++echoed)
        server_writes(t, fakes::server_frame(p.data.front().opcode, p.data.front().payload));
      if (!send_server(t, chunk)) break;
    }
    return echoed;
  }

  // Ends the run, the server answering close frames, then close_notify and FIN.
  bool finish_run(int max_rounds = 64) {
    if (run_.phase.load() < int(RunPhase::Draining)) set_phase(RunPhase::Draining, 0);
    for (int round = 0; round < max_rounds && !fake_.stopped(); ++round) {
      for (net::Token t = 0; t < fake_.socket_count(); ++t) {
        if (!fake_.at(t).open) continue;
        TlsPeer& p = read_client(t);
        if (!p.close_codes.empty() && fake_.can_receive(t) && p.session.established()) {
          server_writes(t, fakes::server_frame(8, fakes::close_payload(uint16_t(p.close_codes.front()))));
          send_server(t);
          read_client(t);  // the worker's close_notify, if it sent one
          p.session.close(p.out);
          send_server(t);
          fake_.end_stream(t, 0);
        }
      }
      tick(1'000'000'000);
      fake_.finish_closes();
    }
    return fake_.stopped();
  }

  FakeReactor& fake() { return fake_; }
  LoadWorker& worker() { return *worker_; }
  LiveCounters& live() { return live_; }
  const std::string& problems() const { return problems_; }

 private:
  void parse_plain(net::Token t, TlsPeer& p) {
    if (!p.head_seen) {
      const size_t end = p.plain.find("\r\n\r\n");
      if (end == std::string::npos) return;
      p.head_seen = true;
      const std::string head = p.plain.substr(0, end + 4);
      p.plain.erase(0, end + 4);
      const size_t at = head.find("Sec-WebSocket-Key: ");
      if (at != std::string::npos) p.key = head.substr(at + 19, head.find("\r\n", at) - at - 19);
      if (head.find("Host: 127.0.0.1:9\r\n") == std::string::npos) problem(t, "no Host header for the URL");
    }
    std::string_view rest;
    for (const ServerFrame& f : fakes::parse_frames(p.plain, &rest)) {
      if (!f.masked) problem(t, "an unmasked client frame");
      if (f.opcode == 1 || f.opcode == 2) p.data.push_back(f);
      if (f.opcode == 8) p.close_codes.push_back(f.payload.empty() ? -1 : int(f.close_code()));
    }
    p.plain.erase(0, p.plain.size() - rest.size());
  }
  void problem(net::Token t, const std::string& what) {
    if (problems_.size() < 4000) problems_ += "connection " + std::to_string(t) + ": " + what + "\n";
  }

  LoadOptions options_;
  server::TlsContext server_ctx_;
  WorkerPlan plan_;
  SharedRun run_;
  LiveCounters live_;
  FakeReactor fake_;
  std::unique_ptr<LoadWorker> worker_;
  std::vector<TlsPeer> peers_;
  std::string problems_;
};

std::string details(const WorkerTotals& t) {
  std::string all;
  for (size_t k = 0; k < kErrorKindCount; ++k)
    if (t.errors[k]) all += std::string(error_kind_name(ErrorKind(k))) + ": " + t.first_detail[k] + "\n";
  return all;
}

uint64_t tls_failures(const WorkerTotals& t, TlsError kind) { return t.tls_failures[size_t(kind)]; }

void expect_sound_end(TlsHarness& h, const WorkerTotals& t) {
  EXPECT_TRUE(h.fake().stopped());
  EXPECT_EQ(t.sent, t.received + t.in_flight + t.lost) << details(t);
  EXPECT_EQ(h.live().open.get(), 0u);
  EXPECT_EQ(h.fake().buffers_in_use(), 0u);
  EXPECT_EQ(h.fake().lent_count(), h.fake().released_count());
  EXPECT_TRUE(h.fake().violations().empty()) << h.fake().violations_text();
  EXPECT_EQ(h.problems(), "");
}

}  // namespace

TEST(LoadWorkerTls, EchoesOverTlsAndTheRunEndsWithCloseNotify) {
  TlsHarness h(wss_options(2, 2), client_context(), server_context());
  h.tick();
  ASSERT_EQ(h.fake().connect_count(), 2u);
  h.open_all();
  EXPECT_EQ(h.live().open.get(), 2u);
  h.set_phase(RunPhase::Running);
  for (int round = 0; round < 5; ++round)
    for (net::Token t = 0; t < 2; ++t) h.echo_all(t);
  EXPECT_GE(h.live().received.get(), 20u);
  ASSERT_TRUE(h.finish_run());
  for (net::Token t = 0; t < 2; ++t) {
    EXPECT_EQ(h.peer(t).close_codes, std::vector<int>{1000});
    EXPECT_EQ(h.peer(t).status, TlsStatus::Closed) << "no close_notify from the worker on " << t;
    EXPECT_FALSE(h.fake().at(t).reset);
  }
  const WorkerTotals t = h.worker().take_totals();
  EXPECT_EQ(t.error_total(), 0u) << details(t);
  EXPECT_EQ(t.mismatched, 0u);
  EXPECT_EQ(t.closed_cleanly, 2u);
  EXPECT_EQ(t.tls_handshakes, 2u);
  EXPECT_EQ(t.tls13, 2u);
  EXPECT_EQ(t.tls_resumed, 0u);
  EXPECT_EQ(t.tls_handshake_us.count(), 2u);
  EXPECT_EQ(t.upgrade_us.count(), 2u);
  EXPECT_EQ(t.connect_us.count(), 2u);
  EXPECT_EQ(t.handshake_us.count(), 2u);
  expect_sound_end(h, t);
}

// Records cut anywhere across receives, and sends the kernel takes a few bytes at a time: the
// ciphertext in flight must stay put while the session writes more behind it.
TEST(LoadWorkerTls, OneByteReceivesAndShortSends) {
  LoadOptions o = wss_options(1, 4);
  o.size_min = 16;
  o.size_max = 1500;
  TlsHarness h(o, client_context(), server_context());
  h.tick();
  ASSERT_TRUE(h.open(0, 1, 7));
  h.set_phase(RunPhase::Running);
  for (int round = 0; round < 4; ++round) h.echo_all(0, round % 2 ? 1 : 1000, round % 2 ? 5 : 3000);
  EXPECT_GE(h.live().received.get(), 12u);
  ASSERT_TRUE(h.finish_run());
  const WorkerTotals t = h.worker().take_totals();
  EXPECT_EQ(t.error_total(), 0u) << details(t);
  EXPECT_EQ(t.mismatched, 0u);
  expect_sound_end(h, t);
}

TEST(LoadWorkerTls, TlsTwelveWhenTheClientCapsIt) {
  TlsHarness h(wss_options(), client_context(server::TlsVersion::Tls12), server_context());
  h.tick();
  ASSERT_TRUE(h.open(0));
  ASSERT_TRUE(h.finish_run());
  const WorkerTotals t = h.worker().take_totals();
  EXPECT_EQ(t.tls12, 1u);
  EXPECT_EQ(t.tls13, 0u);
  EXPECT_EQ(t.error_total(), 0u) << details(t);
  expect_sound_end(h, t);
}

// --handshake-only: each slot reconnects; with --tls-resume it offers its last ticket.
void cycle_handshakes(TlsHarness& h, int cycles) {
  h.set_phase(RunPhase::Running);
  for (int cycle = 0; cycle < cycles; ++cycle) {
    h.tick();
    ASSERT_TRUE(h.fake().connecting(0)) << "cycle " << cycle;
    ASSERT_TRUE(h.open(0));
    TlsPeer& p = h.read_client(0);  // the worker closes at once
    ASSERT_EQ(p.close_codes, std::vector<int>{1000});
    h.server_writes(0, fakes::server_frame(8, fakes::close_payload(1000)));
    h.send_server(0);
    h.read_client(0);
    EXPECT_EQ(p.status, TlsStatus::Closed) << "cycle " << cycle;
    h.fake().end_stream(0, 0);
    h.fake().finish_closes();
  }
}

TEST(LoadWorkerTls, ReconnectsResumeWithTheSlotsLastTicket) {
  for (const server::TlsVersion version : {server::TlsVersion::Tls13, server::TlsVersion::Tls12}) {
    LoadOptions o = wss_options();
    o.handshake_only = true;
    o.tls.resume = true;
    TlsHarness h(o, client_context(version), server_context());
    cycle_handshakes(h, 4);
    ASSERT_TRUE(h.finish_run());
    const WorkerTotals t = h.worker().take_totals();
    EXPECT_EQ(t.error_total(), 0u) << details(t);
    EXPECT_EQ(t.opened, 4u);
    EXPECT_EQ(t.tls_handshakes, 4u);
    EXPECT_EQ(t.tls_resume_offered, 3u);  // every connection but the first
    EXPECT_EQ(t.tls_resumed, 3u);
    expect_sound_end(h, t);
  }
}

TEST(LoadWorkerTls, WithoutTlsResumeEveryHandshakeIsFull) {
  LoadOptions o = wss_options();
  o.handshake_only = true;
  TlsHarness h(o, client_context(), server_context());
  cycle_handshakes(h, 3);
  ASSERT_TRUE(h.finish_run());
  const WorkerTotals t = h.worker().take_totals();
  EXPECT_EQ(t.tls_handshakes, 3u);
  EXPECT_EQ(t.tls_resume_offered, 0u);
  EXPECT_EQ(t.tls_resumed, 0u);
  expect_sound_end(h, t);
}

TEST(LoadWorkerTls, CertificateFailuresAreCountedByKind) {
  for (const std::string& cert : {tls_test::pki().expired_cert, tls_test::pki().wrong_host_cert,
                                  tls_test::pki().unknown_ca_cert}) {
    TlsHarness h(wss_options(), client_context(), server_context(cert));
    h.tick();
    ASSERT_TRUE(h.fake().complete_connect(0, 0));
    h.read_client(0);
    h.send_server(0);  // the server's flight: the worker rejects its certificate
    EXPECT_TRUE(h.fake().close_pending(0)) << cert;
    EXPECT_TRUE(h.fake().at(0).reset);
    h.fake().finish_closes();
    ASSERT_TRUE(h.finish_run());
    const WorkerTotals t = h.worker().take_totals();
    EXPECT_EQ(t.errors[size_t(ErrorKind::TlsFailed)], 1u) << details(t);
    EXPECT_EQ(t.error_total(), 1u) << details(t);
    EXPECT_EQ(tls_failures(t, TlsError::CertificateVerify), 1u) << cert << ": " << details(t);
    EXPECT_NE(t.tls_first_failure[size_t(TlsError::CertificateVerify)].find("connection 0: TLS: "), std::string::npos);
    EXPECT_EQ(t.failed, 1u);
    EXPECT_EQ(t.tls_handshakes, 0u);
    expect_sound_end(h, t);
  }
}

TEST(LoadWorkerTls, APlainHttpAnswerIsNotTls) {
  TlsHarness h(wss_options(), client_context(), server_context());
  h.tick();
  ASSERT_TRUE(h.fake().complete_connect(0, 0));
  h.fake().drain_sends(0);
  ASSERT_TRUE(h.fake().deliver(0, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"));
  h.fake().finish_closes();
  ASSERT_TRUE(h.finish_run());
  const WorkerTotals t = h.worker().take_totals();
  EXPECT_EQ(tls_failures(t, TlsError::NotTls), 1u) << details(t);
  EXPECT_EQ(t.errors[size_t(ErrorKind::TlsFailed)], 1u);
  expect_sound_end(h, t);
}

TEST(LoadWorkerTls, EndOfStreamOrResetInTheHandshake) {
  for (const int error : {0, -ECONNRESET}) {
    TlsHarness h(wss_options(), client_context(), server_context());
    h.tick();
    ASSERT_TRUE(h.fake().complete_connect(0, 0));
    h.fake().drain_sends(0);
    ASSERT_TRUE(h.fake().end_stream(0, error));
    h.fake().finish_closes();
    ASSERT_TRUE(h.finish_run());
    const WorkerTotals t = h.worker().take_totals();
    EXPECT_EQ(tls_failures(t, TlsError::EofInHandshake), 1u) << details(t);
    EXPECT_EQ(t.error_total(), 1u) << details(t);
    if (error) {
      EXPECT_NE(t.first_detail[size_t(ErrorKind::TlsFailed)].find("reset"), std::string::npos);
    }
    expect_sound_end(h, t);
  }
}

TEST(LoadWorkerTls, AStalledTlsHandshakeTimesOut) {
  LoadOptions o = wss_options();
  o.handshake_timeout_s = 1;
  TlsHarness h(o, client_context(), server_context());
  h.tick();
  ASSERT_TRUE(h.fake().complete_connect(0, 0));
  h.fake().drain_sends(0);  // the ClientHello goes; no answer ever comes
  h.tick(2'000'000'000);
  h.fake().finish_closes();
  ASSERT_TRUE(h.finish_run());
  const WorkerTotals t = h.worker().take_totals();
  EXPECT_EQ(t.errors[size_t(ErrorKind::HandshakeTimeout)], 1u) << details(t);
  EXPECT_NE(t.first_detail[size_t(ErrorKind::HandshakeTimeout)].find("TLS handshake"), std::string::npos);
  expect_sound_end(h, t);
}

// The server ends TLS without a close frame: its close_notify is answered, the end of the stream
// that follows is the WebSocket error it always was (not a TLS failure).
TEST(LoadWorkerTls, TheServersCloseNotifyIsAnswered) {
  TlsHarness h(wss_options(), client_context(), server_context());
  h.tick();
  ASSERT_TRUE(h.open(0));
  TlsPeer& p = h.peer(0);
  ASSERT_TRUE(p.session.close(p.out));
  h.send_server(0);
  h.read_client(0);
  EXPECT_EQ(p.status, TlsStatus::Closed);
  h.fake().end_stream(0, 0);
  h.fake().finish_closes();
  ASSERT_TRUE(h.finish_run());
  const WorkerTotals t = h.worker().take_totals();
  EXPECT_EQ(t.errors[size_t(ErrorKind::UnexpectedEof)], 1u) << details(t);
  EXPECT_EQ(t.errors[size_t(ErrorKind::TlsFailed)], 0u) << details(t);
  expect_sound_end(h, t);
}

TEST(LoadWorkerTls, GarbageAfterTheHandshakeIsABadRecord) {
  TlsHarness h(wss_options(), client_context(), server_context());
  h.tick();
  ASSERT_TRUE(h.open(0));
  ASSERT_TRUE(h.fake().deliver(0, std::string("\x17\x03\x03\x00\x20", 5) + std::string(32, 'x')));
  h.fake().finish_closes();
  ASSERT_TRUE(h.finish_run());
  const WorkerTotals t = h.worker().take_totals();
  EXPECT_EQ(tls_failures(t, TlsError::BadRecord), 1u) << details(t);
  EXPECT_EQ(t.opened, 1u);
  expect_sound_end(h, t);
}
