// Fuzzes wsring-load's LoadWorker against an arbitrary server, without sockets: the worker runs
// on the FakeReactor and tests/fault/load_worker_harness.hpp plays the server. The input is
//   byte 0   shape: bits 0-1 connections - 1 (at most 3), 2 text, 3 --handshake-only,
//            4-5 pipeline 1/2/4/8, 6 random sizes (up to 300 bytes), 7 --rate 100
//   byte 1   more: bit 0 --ramp-up (traffic before the window), 1 a budget of 6 messages,
//            2-7 the smallest size above 16
//   then     operations, one byte each (low 4 bits: what; high 4 bits: which connection),
//            most followed by argument bytes (missing bytes read as 0):
//     0 raw n+1 bytes (n = arg) in receive buffers of c+1 bytes (c = arg & 63)
//     1 a valid 101 for the request sent        2 echo the next client message (arg: how:
//       exact, one byte flipped, split in two receives, two fragments, a byte short, a byte
//       long, other type, twice)
//     3 complete the send (arg 0: all, else that many bytes)   4 the send finds a full socket
//     5 the send fails (reset)                  6 the connect completes (arg & 1: refused)
//     7 the clock moves arg * 20 ms (255: 100 s)     8 phase: Running, Draining, Abort
//     9 end of stream (arg & 1: a reset)        10 on_closed for every socket closed
//    11 a control frame (ping, pong, close + code) with arg2 % 126 payload bytes
//    12 any frame: b0 = arg, length and mask bit from arg2, payload from the input
//    13 complete every send (short sends of arg + 1 bytes when arg is odd)
// After the last operation the run is ended the way main() ends it, the server now behaving.
// Checked: no crash and no illegal state move (asserted), the worker stops, every connection is
// closed and every buffer released exactly once, the reactor contract holds, the client's bytes
// keep RFC 6455 (masked frames, valid close codes, nothing after its close), and the counts add
// up: sent = received + in_flight + lost.
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tests/fault/load_worker_harness.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using namespace wsring;
using fakes::LoadWorkerHarness;
using fakes::server_frame;

using wsring::fuzz::fail;

class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool empty() const { return pos_ >= size_; }
  uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  std::string bytes(size_t n) {
    n = std::min(n, size_ - std::min(pos_, size_));
    std::string out(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return out;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

load::LoadOptions shape(uint8_t a, uint8_t b) {
  load::LoadOptions o;
  o.url_text = "ws://127.0.0.1:9/";
  load::parse_ws_url(o.url_text, o.url, nullptr);
  o.connections = std::min(3, (a & 3) + 1);
  o.text = a & 4;
  o.handshake_only = a & 8;
  o.pipeline = 1u << ((a >> 4) & 3);
  o.size_min = 16 + (b >> 2);
  o.size_max = a & 64 ? 300 : o.size_min;
  if (a & 128) o.rate = 100;
  if (b & 1) o.ramp_up_s = 0.5;
  if (o.handshake_only) {
    o.rate = 0;
    o.size_min = o.size_max = load::kStampSize;
  }
  return o;
}

// The next client message on t, echoed in one of eight ways.
void echo(LoadWorkerHarness& h, net::Token t, uint8_t how, uint8_t at) {
  LoadWorkerHarness::Peer& p = h.read_client(t);
  if (p.data.empty()) return;
  fakes::ServerFrame f = p.data.front();
  p.data.pop_front();
  std::string payload = f.payload;
  uint8_t opcode = f.opcode;
  const size_t cut = payload.empty() ? 0 : at % payload.size();
  switch (how % 8) {
    case 1:
      if (!payload.empty()) payload[cut] = char(payload[cut] ^ 0x20);
      break;
    case 3:
      h.deliver(t, server_frame(opcode, payload.substr(0, cut), false) + server_frame(0, payload.substr(cut)));
      return;
    case 4:
      if (!payload.empty()) payload.pop_back();
      break;
    case 5:
      payload += 'x';
      break;
    case 6:
      opcode = opcode == 1 ? 2 : 1;
      break;
    case 7:
      h.deliver(t, server_frame(opcode, payload));
      break;
    default:
      break;
  }
  const std::string frame = server_frame(opcode, payload);
  if (how % 8 == 2) {
    const size_t split = frame.size() > 1 ? 1 + at % (frame.size() - 1) : frame.size();
    h.deliver(t, frame.substr(0, split));
    h.deliver(t, frame.substr(split));
    return;
  }
  h.deliver(t, frame);
}

void control(LoadWorkerHarness& h, net::Token t, Input& in) {
  const uint8_t kind = in.byte() % 3;
  const size_t n = in.byte() % 126;
  if (kind == 2) {
    const uint16_t code = uint16_t((in.byte() << 8) | in.byte());
    std::string payload = fakes::close_payload(code, in.bytes(n > 2 ? n - 2 : 0));
    h.deliver(t, server_frame(8, payload));
  } else {
    h.deliver(t, server_frame(kind == 0 ? 9 : 10, in.bytes(n)));
  }
}

void any_frame(LoadWorkerHarness& h, net::Token t, Input& in) {
  const uint8_t b0 = in.byte();
  const uint8_t b1 = in.byte();
  const size_t n = b1 & 127 ? (b1 & 127) - 1 : 0;  // at most 126: also the 16-bit form
  std::string frame;
  frame += char(b0);
  if (n < 126) {
    frame += char((b1 & 128) | n);
  } else {
    frame += char((b1 & 128) | 126);
    frame += char(0);
    frame += char(n);
  }
  if (b1 & 128) frame += in.bytes(4);
  frame += in.bytes(n);
  h.deliver(t, frame);
}

void run_operation(LoadWorkerHarness& h, const load::LoadOptions& o, Input& in) {
  const uint8_t op = in.byte();
  const net::Token t = net::Token((op >> 4) % o.connections);
  fakes::FakeReactor& fake = h.fake();
  switch (op & 15) {
    case 0: {
      const size_t n = size_t(in.byte()) + 1;
      const size_t chunk = (in.byte() & 63) + 1;
      h.deliver(t, in.bytes(n), chunk);
      break;
    }
    case 1:
      h.upgrade(t);
      break;
    case 2: {
      const uint8_t how = in.byte();
      echo(h, t, how, in.byte());
      break;
    }
    case 3: {
      const uint8_t n = in.byte();
      fake.complete_send(t, n ? n : SIZE_MAX);
      break;
    }
    case 4:
      fake.fail_send(t, EAGAIN);
      break;
    case 5:
      fake.fail_send(t, ECONNRESET);
      break;
    case 6:
      fake.complete_connect(t, in.byte() & 1 ? -ECONNREFUSED : 0);
      break;
    case 7: {
      const uint8_t n = in.byte();
      h.tick(n == 255 ? 100'000'000'000ull : uint64_t(n) * 20'000'000);  // 255: past every timeout
      break;
    }
    case 8: {
      const uint8_t arg = in.byte();
      const int phase = 1 + arg % 3;  // Running, Draining or Abort; like main(), only forward
      const uint64_t drain_wait_ns = uint64_t(in.byte()) * 50'000'000;
      if (phase <= h.run().phase.load()) break;
      if (arg & 4) h.run().connect_overdue.store(true);
      h.set_phase(load::RunPhase(phase), drain_wait_ns);
      break;
    }
    case 9:
      fake.end_stream(t, in.byte() & 1 ? -ECONNRESET : 0);
      break;
    case 10:
      fake.finish_closes();
      break;
    case 11:
      control(h, t, in);
      break;
    case 12:
      any_frame(h, t, in);
      break;
    case 13: {
      const uint8_t arg = in.byte();
      for (int i = 0; i < 10000 && fake.sending(t); ++i) fake.complete_send(t, arg & 1 ? size_t(arg) + 1 : SIZE_MAX);
      break;
    }
    default:
      h.tick();
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  Input in(data, size);
  const uint8_t a = in.byte();
  const uint8_t b = in.byte();
  const load::LoadOptions options = shape(a, b);
  LoadWorkerHarness h(options, LoadWorkerHarness::client_reactor(), b & 2 ? 6 : 0);
  h.tick();  // the first connects start
  for (int ops = 0; ops < 4096 && !in.empty(); ++ops) run_operation(h, options, in);

  if (!h.finish_run()) fail("the worker did not stop after the run ended");
  const load::WorkerTotals t = h.worker().take_totals();
  fakes::FakeReactor& fake = h.fake();
  if (!fake.violations().empty()) fail("reactor contract broken", fake.violations_text());
  if (!h.problems().empty()) fail("the client broke RFC 6455", h.problems());
  if (fake.buffers_in_use() != 0 || fake.lent_count() != fake.released_count())
    fail("receive buffers not released exactly once");
  for (net::Token tok = 0; tok < fake.socket_count(); ++tok)
    if (fake.at(tok).open) fail("a connection was never closed", std::to_string(tok));
  if (h.live().open.get() != 0) fail("open connections counted after the end");
  if (t.sent != t.received + t.in_flight + t.lost)
    fail("sent != received + in_flight + lost", std::to_string(t.sent) + " " + std::to_string(t.received) + " " +
                                                     std::to_string(t.in_flight) + " " + std::to_string(t.lost));
  if (t.mismatched > t.received || t.latency_us.count() + t.mismatched != t.received)
    fail("echoes counted inconsistently");
  if (std::getenv("LOAD_WORKER_FUZZ_VERBOSE")) {  // what an input did, to check a seed
    std::fprintf(stderr, "opened %llu failed %llu clean %llu sent %llu received %llu mismatched %llu lost %llu in flight %llu\n",
                 (unsigned long long)t.opened, (unsigned long long)t.failed, (unsigned long long)t.closed_cleanly,
                 (unsigned long long)t.sent, (unsigned long long)t.received, (unsigned long long)t.mismatched,
                 (unsigned long long)t.lost, (unsigned long long)t.in_flight);
    for (size_t k = 0; k < load::kErrorKindCount; ++k)
      if (t.errors[k]) std::fprintf(stderr, "  %s %llu: %s\n", load::error_kind_name(load::ErrorKind(k)),
                                    (unsigned long long)t.errors[k], t.first_detail[k].c_str());
  }
  return 0;
}
