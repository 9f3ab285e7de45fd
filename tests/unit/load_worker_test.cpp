#include "bench/load/worker.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/fault/load_worker_harness.hpp"

using namespace wsring;
using namespace wsring::load;
using fakes::LoadWorkerHarness;
using fakes::server_frame;

namespace {

constexpr uint64_t kMs = 1'000'000;

LoadOptions options_for(uint32_t connections = 1, uint32_t pipeline = 1) {
  LoadOptions o;
  o.url_text = "ws://127.0.0.1:9/";
  parse_ws_url(o.url_text, o.url, nullptr);
  o.connections = connections;
  o.pipeline = pipeline;
  o.size_min = o.size_max = 32;
  return o;
}

uint64_t count(const WorkerTotals& t, ErrorKind kind) { return t.errors[size_t(kind)]; }

std::string details(const WorkerTotals& t) {
  std::string all;
  for (size_t k = 0; k < kErrorKindCount; ++k)
    if (t.errors[k]) all += std::string(error_kind_name(ErrorKind(k))) + ": " + t.first_detail[k] + "\n";
  return all;
}

// What every scenario must leave behind, whatever happened in it.
void expect_sound_end(LoadWorkerHarness& h, const WorkerTotals& t) {
  EXPECT_TRUE(h.fake().stopped());
  EXPECT_EQ(t.sent, t.received + t.in_flight + t.lost) << details(t);
  EXPECT_EQ(h.live().open.get(), 0u);
  EXPECT_EQ(h.fake().buffers_in_use(), 0u);
  EXPECT_EQ(h.fake().lent_count(), h.fake().released_count());
  EXPECT_TRUE(h.fake().violations().empty()) << h.fake().violations_text();
  EXPECT_EQ(h.problems(), "");
  for (net::Token tok = 0; tok < h.fake().socket_count(); ++tok) EXPECT_FALSE(h.fake().at(tok).open) << tok;
}

// Upgrades every connection and starts the measured window (each pipeline is then full).
void open_and_run(LoadWorkerHarness& h) {
  h.tick();
  h.open_all();
  h.set_phase(RunPhase::Running);
}

}  // namespace

TEST(LoadWorker, EchoesAreVerifiedAndTheRunEndsWithCleanCloses) {
  LoadWorkerHarness h(options_for(2, 2));
  h.tick();
  ASSERT_EQ(h.fake().connect_count(), 2u);
  h.open_all();
  EXPECT_EQ(h.live().open.get(), 2u);
  EXPECT_TRUE(h.live().connect_done.load());
  h.set_phase(RunPhase::Running);
  for (int round = 0; round < 5; ++round)
    for (net::Token tok = 0; tok < 2; ++tok) h.echo_all(tok);
  EXPECT_GE(h.live().received.get(), 20u);
  ASSERT_TRUE(h.finish_run());
  const WorkerTotals t = h.worker().take_totals();
  EXPECT_EQ(t.error_total(), 0u) << details(t);
  EXPECT_EQ(t.mismatched, 0u);
  EXPECT_EQ(t.opened, 2u);
  EXPECT_EQ(t.closed_cleanly, 2u);
  EXPECT_EQ(t.latency_us.count(), t.received);
  EXPECT_EQ(h.peer(0).close_codes, std::vector<int>{1000});
  expect_sound_end(h, t);
}

TEST(LoadWorker, AMessageWithNothingSentIsAProtocolErrorClosedWith1002) {
  LoadWorkerHarness h(options_for());
  h.tick();
  h.open_all();  // upgraded, but the window has not started: nothing is sent
  ASSERT_TRUE(h.deliver(0, server_frame(2, std::string(32, 'x'))));
  // The connection fails: later frames are ignored, not counted again.
  h.deliver(0, server_frame(2, std::string(32, 'y')) + server_frame(9, "ping"));
  h.fake().drain_sends(0);
  EXPECT_EQ(h.read_client(0).close_codes, std::vector<int>{1002});
  EXPECT_EQ(h.read_client(0).pongs, 0u);
  EXPECT_EQ(h.live().errors.get(), 1u);
  h.fake().end_stream(0, 0);  // the server ends TCP: the connection is done
  h.fake().finish_closes();
  ASSERT_TRUE(h.finish_run());
  const WorkerTotals t = h.worker().take_totals();
  EXPECT_EQ(count(t, ErrorKind::UnexpectedMessage), 1u) << details(t);
  EXPECT_EQ(t.error_total(), 1u) << details(t);
  EXPECT_EQ(t.received, 0u);
  EXPECT_EQ(t.closed_cleanly, 0u);
  expect_sound_end(h, t);
}

// The crash once found by a probe: while a send was stalled, frames from the server were taken
// as echoes of the messages still waiting in the filling buffer, which was refilled after each
// one until the close frame no longer fit.
TEST(LoadWorker, AnAnswerToAMessageStillInTheFillingBufferIsUnexpected) {
  LoadWorkerHarness h(options_for());
  open_and_run(h);  // message 0 is in a send that does not complete
  ASSERT_TRUE(h.fake().sending(0));
  ASSERT_EQ(h.live().sent.get(), 1u);
  ASSERT_TRUE(h.deliver(0, server_frame(2, std::string(32, 'x'))));  // "answers" message 0
  EXPECT_EQ(h.live().received.get(), 1u);
  EXPECT_EQ(h.live().mismatched.get(), 1u);
  EXPECT_EQ(h.live().sent.get(), 2u);  // message 1 waits in the filling buffer
  for (int i = 0; i < 20; ++i) h.deliver(0, server_frame(2, std::string(32, 'x')));
  EXPECT_EQ(h.live().sent.get(), 2u);
  EXPECT_EQ(h.live().received.get(), 1u);
  h.fake().drain_sends(0);
  EXPECT_EQ(h.read_client(0).data.size(), 2u);  // messages 0 and 1, then the close
  EXPECT_EQ(h.read_client(0).close_codes, std::vector<int>{1002});
  ASSERT_TRUE(h.finish_run());
  const WorkerTotals t = h.worker().take_totals();
  EXPECT_EQ(count(t, ErrorKind::UnexpectedMessage), 1u) << details(t);
  EXPECT_EQ(count(t, ErrorKind::Mismatch), 1u) << details(t);
  EXPECT_EQ(t.lost, 1u);  // message 1
  expect_sound_end(h, t);
}

TEST(LoadWorker, AMaskedServerFrameIsAProtocolErrorClosedWith1002) {
  LoadWorkerHarness h(options_for());
  open_and_run(h);
  h.fake().drain_sends(0);
  ASSERT_TRUE(h.deliver(0, server_frame(2, std::string(32, 'x'), true, true)));
  h.fake().drain_sends(0);
  EXPECT_EQ(h.read_client(0).close_codes, std::vector<int>{1002});
  ASSERT_TRUE(h.finish_run());
  const WorkerTotals t = h.worker().take_totals();
  EXPECT_EQ(count(t, ErrorKind::ProtocolError), 1u) << details(t);
  EXPECT_NE(t.first_detail[size_t(ErrorKind::ProtocolError)].find("mask"), std::string::npos) << details(t);
  EXPECT_EQ(t.lost, 1u);
  expect_sound_end(h, t);
}

TEST(LoadWorker, InvalidUtf8InATextEchoClosesWith1007) {
  LoadOptions o = options_for();
  o.text = true;
  LoadWorkerHarness h(o);
  open_and_run(h);
  h.fake().drain_sends(0);
  ASSERT_TRUE(h.deliver(0, server_frame(1, "\xff\xfe")));
  h.fake().drain_sends(0);
  EXPECT_EQ(h.read_client(0).close_codes, std::vector<int>{1007});
  ASSERT_TRUE(h.finish_run());
  const WorkerTotals t = h.worker().take_totals();
  EXPECT_EQ(count(t, ErrorKind::ProtocolError), 1u) << details(t);
  expect_sound_end(h, t);
}

TEST(LoadWorker, PingsAreAnsweredAndServerClosesEchoed) {
  LoadWorkerHarness h(options_for());
  open_and_run(h);
  h.fake().drain_sends(0);
  ASSERT_TRUE(h.deliver(0, server_frame(9, "are you there")));
  h.fake().drain_sends(0);
  EXPECT_EQ(h.read_client(0).pongs, 1u);
  ASSERT_TRUE(h.deliver(0, server_frame(8, fakes::close_payload(1001, "bye"))));
  h.fake().drain_sends(0);
  EXPECT_EQ(h.read_client(0).close_codes, std::vector<int>{1001});
  h.fake().end_stream(0, 0);
  h.fake().finish_closes();
  ASSERT_TRUE(h.finish_run());
  const WorkerTotals t = h.worker().take_totals();
  EXPECT_EQ(count(t, ErrorKind::UnexpectedClose), 1u) << details(t);
  EXPECT_NE(t.first_detail[size_t(ErrorKind::UnexpectedClose)].find("1001 (bye)"), std::string::npos);
  EXPECT_EQ(t.lost, 1u);
  EXPECT_EQ(t.closed_cleanly, 0u);
  expect_sound_end(h, t);
}

TEST(LoadWorker, AServerThatNeverAnswersOurCloseTimesOut) {
  LoadWorkerHarness h(options_for());
  open_and_run(h);
  h.echo_all(0);
  h.set_phase(RunPhase::Draining, 0);
  h.tick();
  h.fake().drain_sends(0);
  ASSERT_EQ(h.read_client(0).close_codes, std::vector<int>{1000});
  h.tick(2900 * kMs);
  EXPECT_TRUE(h.fake().at(0).open && !h.fake().at(0).closing);
  h.tick(200 * kMs);
  EXPECT_TRUE(h.fake().at(0).closing);
  EXPECT_TRUE(h.fake().at(0).reset);
  h.fake().finish_closes();
  ASSERT_TRUE(h.fake().stopped());
  const WorkerTotals t = h.worker().take_totals();
  EXPECT_EQ(count(t, ErrorKind::CloseTimeout), 1u) << details(t);
  EXPECT_EQ(t.in_flight + t.received, t.sent);
  expect_sound_end(h, t);
}

TEST(LoadWorker, TheHandshakeTimeoutIsTheOptionsOne) {
  LoadOptions o = options_for();
  o.handshake_timeout_s = 0.5;
  LoadWorkerHarness h(o);
  h.tick();
  h.fake().complete_connect(0, 0);
  h.fake().drain_sends(0);  // the request went out; no answer comes
  h.tick(400 * kMs);
  EXPECT_FALSE(h.fake().at(0).closing);
  h.tick(200 * kMs);
  EXPECT_TRUE(h.fake().at(0).closing);
  h.fake().finish_closes();
  EXPECT_TRUE(h.live().connect_done.load());
  ASSERT_TRUE(h.finish_run());
  const WorkerTotals t = h.worker().take_totals();
  EXPECT_EQ(count(t, ErrorKind::HandshakeTimeout), 1u) << details(t);
  EXPECT_NE(t.first_detail[size_t(ErrorKind::HandshakeTimeout)].find("within 0.5 s"), std::string::npos);
  EXPECT_EQ(t.failed, 1u);
  expect_sound_end(h, t);
}

TEST(LoadWorker, HandshakesPendingWhenTheConnectPhaseRanOutAreTimeouts) {
  for (const bool overdue : {false, true}) {
    LoadWorkerHarness h(options_for(2));
    h.tick();
    h.fake().complete_connect(0, 0);  // connection 0 waits for its 101, connection 1 for TCP
    h.run().connect_overdue.store(overdue);
    h.set_phase(RunPhase::Draining);
    h.fake().finish_closes();
    ASSERT_TRUE(h.fake().stopped()) << overdue;
    const WorkerTotals t = h.worker().take_totals();
    // Cut short by an ordinary end of the run they are neither opened nor failed; when the run
    // gave up waiting for them, they failed.
    EXPECT_EQ(count(t, ErrorKind::HandshakeTimeout), overdue ? 2u : 0u) << details(t);
    EXPECT_EQ(t.failed, overdue ? 2u : 0u);
    expect_sound_end(h, t);
  }
}

TEST(LoadWorker, TheCloseFrameFitsBehindFullPipelinesAndPongs) {
  LoadWorkerHarness h(options_for(1, 4));
  open_and_run(h);  // four messages in one send
  ASSERT_TRUE(h.fake().sending(0));
  // All but the last byte go: three messages are out, the rest of the fourth stays in flight.
  h.fake().complete_send(0, h.fake().in_flight_bytes(0) - 1);
  ASSERT_TRUE(h.fake().sending(0));
  fakes::LoadWorkerHarness::Peer& p = h.read_client(0);
  ASSERT_EQ(p.data.size(), 3u);
  for (; !p.data.empty(); p.data.pop_front()) ASSERT_TRUE(h.deliver(0, server_frame(2, p.data.front().payload)));
  EXPECT_EQ(h.live().received.get(), 3u);
  EXPECT_EQ(h.live().sent.get(), 7u);  // three more wait in the filling buffer
  ASSERT_TRUE(h.deliver(0, server_frame(9, std::string(125, 'p'))));  // a pong on top
  h.set_phase(RunPhase::Draining, 0);  // and the close behind it
  h.fake().drain_sends(0);
  EXPECT_EQ(h.read_client(0).close_codes, std::vector<int>{1000});
  EXPECT_EQ(h.read_client(0).pongs, 1u);
  EXPECT_EQ(h.read_client(0).data.size(), 4u);  // the rest of the fourth message, and three more
  ASSERT_TRUE(h.finish_run());
  const WorkerTotals t = h.worker().take_totals();
  expect_sound_end(h, t);
}

TEST(LoadWorker, HandshakeOnlyConnectionsCycle) {
  LoadOptions o = options_for(1);
  o.handshake_only = true;
  o.size_min = o.size_max = kStampSize;
  LoadWorkerHarness h(o);
  h.set_phase(RunPhase::Running);
  for (int cycle = 0; cycle < 3; ++cycle) {
    h.tick();
    ASSERT_TRUE(h.fake().connecting(0)) << cycle;
    h.fake().complete_connect(0, 0);
    h.fake().drain_sends(0);
    ASSERT_TRUE(h.upgrade(0));
    h.fake().drain_sends(0);
    ASSERT_EQ(h.read_client(0).close_codes, std::vector<int>{1000});
    h.deliver(0, server_frame(8, fakes::close_payload(1000)));
    h.fake().end_stream(0, 0);
    h.fake().finish_closes();
  }
  ASSERT_TRUE(h.finish_run());
  const WorkerTotals t = h.worker().take_totals();
  EXPECT_EQ(t.opened, 3u);
  EXPECT_EQ(t.closed_cleanly, 3u);
  EXPECT_EQ(t.error_total(), 0u) << details(t);
  expect_sound_end(h, t);
}
