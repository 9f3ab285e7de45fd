// Fuzzes a whole server connection without sockets: the engine with the echo application, driven through the
// FakeReactor (tests/fault/fake_reactor.hpp). The input is
//   byte 0      options (bit 0 short sends, 1 sends complete only when needed, 2 full
//               sockets (-EAGAIN), 3 small --max-backpressure, 4 the peer ends with a reset,
//               5 small --max-message-size, 6 a long stall midway (timers fire),
//               7 ping interval and idle timeout on)
//   byte 1      k = (byte & 15): how many chunk lengths follow
//   k bytes     chunk lengths: (b & 127) + 1, times 16 if b & 128 (used cyclically; k = 0:
//               chunks as large as a receive buffer)
//   the rest    the client's byte stream (upgrade request, then frames)
// The stream is delivered in receive buffers of those lengths after on_accept; sends are
// completed (sometimes short, sometimes with -EAGAIN) between receives, and at the end the
// peer goes away. Checked: every buffer lent is released exactly once, the connection is
// closed exactly once, the reactor contract holds (one send in flight, no operation on a
// closed socket, no buffer released while a send uses it), and everything echoed is a
// well-formed server frame whose data is a prefix of the data the client sent.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "net/socket.hpp"
#include "server/echo_app.hpp"
#include "server/engine.hpp"
#include "tests/fault/fake_reactor.hpp"
#include "tests/fault/wire.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using namespace wsring;
using fakes::FakeReactor;

using wsring::fuzz::fail;

struct World {
  server::Config config;
  server::Logger log{server::LogLevel::Error};
  server::SharedState shared;
  FakeReactor fake{FakeReactor::Options{16, 2048}};
  server::EchoApp echo;
  server::Engine server{config, fake, -1, shared, log, echo};
  uint64_t clock_ms = 0;  // the timer wheel's clock: only ever moves forward

  World() {
    fake.attach(server);
    tick(0);
  }
  void tick(uint64_t ahead_ms) {
    clock_ms = std::max(clock_ms, net::monotonic_ms()) + ahead_ms;
    server.on_tick(clock_ms);
  }
};

// The data (opcodes 0-2) the client sent after its request head, as far as it decodes;
// a last frame cut short counts with the payload bytes it has (the server echoes frames
// piecewise, as they arrive).
std::string client_data(std::string_view stream) {
  const size_t end = stream.find("\r\n\r\n");
  if (end == std::string_view::npos) return {};
  const auto* p = reinterpret_cast<const uint8_t*>(stream.data());
  size_t pos = end + 4;
  std::string data;
  while (stream.size() - pos >= 2) {
    const uint8_t opcode = p[pos] & 15;
    uint64_t n = p[pos + 1] & 127;
    size_t header = 2;
    if (n == 126) {
      if (stream.size() - pos < 4) break;
      n = (uint64_t(p[pos + 2]) << 8) | p[pos + 3];
      header = 4;
    } else if (n == 127) {
      if (stream.size() - pos < 10) break;
      n = 0;
      for (int i = 0; i < 8; ++i) n = (n << 8) | p[pos + 2 + i];
      header = 10;
    }
    const bool masked = p[pos + 1] & 128;
    if (stream.size() - pos < header + (masked ? 4 : 0)) break;
    const uint8_t* key = p + pos + header;
    if (masked) header += 4;
    const size_t have = size_t(std::min<uint64_t>(n, stream.size() - pos - header));
    if (opcode == 8) break;
    if (opcode <= 2)
      for (size_t i = 0; i < have; ++i) data += char(p[pos + header + i] ^ (masked ? key[i % 4] : 0));
    if (have < n) break;
    pos += header + have;
  }
  return data;
}

void check_output(const std::string& wire, bool complete, std::string_view stream) {
  std::string_view head, rest, leftover;
  fakes::split_head(wire, head, rest);
  if (head.substr(0, 13) != "HTTP/1.1 101 ") return;  // an HTTP answer: nothing follows it
  const auto frames = fakes::parse_frames(rest, &leftover);
  if (complete && !leftover.empty()) fail("an orderly closed connection ends in a partial frame");
  std::string echoed;
  for (const fakes::ServerFrame& f : frames) {
    if (f.masked || f.rsv) fail("a server frame is masked or has RSV bits");
    if (f.opcode >= 3 && f.opcode <= 7) fail("a server frame has a reserved opcode");
    if (f.opcode >= 8 && (!f.fin || f.payload.size() > 125)) fail("a bad control frame");
    if (f.opcode >= 11) fail("a server frame has a reserved control opcode");
    if (f.opcode <= 2) echoed += f.payload;
  }
  const std::string sent = client_data(stream);
  if (sent.compare(0, echoed.size(), echoed) != 0 || echoed.size() > sent.size())
    fail("the echo is not a prefix of what the client sent",
         "echoed " + std::to_string(echoed.size()) + " bytes, client sent " + std::to_string(sent.size()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World* world = new World();  // one server for the whole run: checked clean after each input
  World& w = *world;
  if (size < 2) return 0;
  const uint8_t options = data[0];
  const size_t k = data[1] & 15;
  if (size < 2 + k) return 0;
  std::vector<size_t> lengths;
  for (size_t i = 0; i < k; ++i) {
    const uint8_t b = data[2 + i];
    lengths.push_back((size_t(b & 127) + 1) * (b & 128 ? 16 : 1));
  }
  if (lengths.empty()) lengths.push_back(2048);
  const std::string_view stream(reinterpret_cast<const char*>(data + 2 + k), size - 2 - k);

  const bool short_sends = options & 1, lazy_sends = options & 2, full_sockets = options & 4;
  w.config.max_backpressure = options & 8 ? 1024 : 1u << 20;
  w.config.max_message_size = options & 32 ? 200 : 16u << 20;
  w.config.ping_interval_s = options & 128 ? 1 : 0;
  w.config.idle_timeout_s = options & 128 ? 3 : 0;

  const int64_t accepted = w.fake.accept();
  if (accepted < 0) fail("the server refused a connection");
  const net::Token t = net::Token(accepted);

  size_t schedule = 0;  // walks the chunk lengths to vary how sends complete
  bool was_full = false;
  auto complete_one = [&]() {
    const size_t n = lengths[schedule++ % lengths.size()];
    if (full_sockets && n % 3 == 0 && !was_full) {  // never twice in a row: progress
      was_full = true;
      w.fake.fail_send(t, EAGAIN);
    } else {
      was_full = false;
      w.fake.complete_send(t, short_sends ? n : SIZE_MAX);
    }
  };
  auto drain = [&]() {
    for (int i = 0; i < 1000000 && w.fake.sending(t); ++i) complete_one();
    if (w.fake.sending(t)) fail("sends never finish");
  };

  size_t pos = 0, chunk = 0;
  bool stalled = false;
  while (pos < stream.size()) {
    if (!stalled && (options & 64) && pos >= stream.size() / 2) {
      stalled = true;
      w.tick(3600 * 1000);  // the process stood still for an hour: every timer is due
    }
    if (!w.fake.can_receive(t) || !w.fake.buffer_free()) {
      if (w.fake.sending(t)) {
        complete_one();
        continue;
      }
      const auto& s = w.fake.at(t);
      if (s.open && !s.closing && !s.recv_ended)
        fail(s.paused ? "reading paused with no send to wait for" : "every buffer held with no send to wait for");
      break;  // closed or ended: the rest of the stream is never read
    }
    const size_t n = std::min({lengths[chunk++ % lengths.size()], stream.size() - pos, size_t(2048)});
    w.fake.deliver(t, stream.substr(pos, n));
    pos += n;
    if (!lazy_sends)
      for (size_t r = lengths[chunk % lengths.size()] % 4; r > 0 && w.fake.sending(t); --r) complete_one();
  }

  // The peer goes away; the server must let go of everything.
  drain();
  w.fake.end_stream(t, options & 16 ? -ECONNRESET : 0);
  drain();
  w.fake.finish_closes();
  if (w.server.open_connections() != 0) {  // e.g. waiting for a close reply: let it time out
    w.tick(3600 * 1000);
    drain();
    w.fake.finish_closes();
  }
  const auto& s = w.fake.at(t);
  if (w.server.open_connections() != 0 || s.open) fail("the connection was never closed");
  if (s.closed_deliveries != 1) fail("on_closed delivered other than once");
  if (w.fake.buffers_in_use() != 0 || w.fake.lent_count() != w.fake.released_count())
    fail("receive buffers not released exactly once");
  if (!w.fake.violations().empty()) fail("reactor contract broken", w.fake.violations_text());
  if (w.shared.connections.load() != 0) fail("shared connection count not back to 0");
  check_output(s.wire, !s.reset, stream);
  return 0;
}
