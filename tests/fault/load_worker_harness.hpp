// Drives one wsring-load LoadWorker without sockets, through the FakeReactor, and plays the
// server: it reads what the worker sent (the upgrade request, then masked client frames,
// checking that they keep the rules), answers the upgrade with a valid 101 for the request's
// key, echoes the client's messages (or anything else the test wants to send), and moves the
// run's clock and phases by hand (the run clock is monotonic time minus SharedRun::epoch_ns, so
// lowering epoch_ns moves time forward).
//
// Used by tests/unit/load_worker_test.cpp and tests/fuzz/load_worker_fuzz.cpp; header-only,
// like the FakeReactor, so that the fuzz target needs no test library.
#pragma once

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bench/load/worker.hpp"
#include "net/socket.hpp"
#include "tests/fault/fake_reactor.hpp"
#include "tests/fault/wire.hpp"

namespace wsring::fakes {

// Sec-WebSocket-Accept for a key (RFC 6455 §4.2.2), with OpenSSL directly rather than core/.
inline std::string websocket_accept(std::string_view key) {
  std::string text(key);
  text += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  unsigned char out[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
  const int n = EVP_EncodeBlock(out, digest, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<const char*>(out), size_t(n));
}

// A server frame: unmasked, as RFC 6455 §5.1 requires (masked = true breaks that rule).
inline std::string server_frame(uint8_t opcode, std::string_view payload, bool fin = true, bool masked = false) {
  return client_frame(opcode, payload, fin, masked);
}

class LoadWorkerHarness {
 public:
  // The server's view of the current life of one connection.
  struct Peer {
    uint64_t life = 0;             // FakeReactor::Socket::life this view belongs to
    size_t wire_read = 0;          // bytes of the socket's wire parsed so far
    bool head_seen = false;
    std::string key;               // the request's Sec-WebSocket-Key
    std::deque<ServerFrame> data;  // client data frames not yet echoed
    std::vector<int> close_codes;  // of the client's close frames (-1: empty payload)
    uint64_t pongs = 0;
    bool upgraded = false;         // a 101 was delivered
  };

  explicit LoadWorkerHarness(const load::LoadOptions& options, FakeReactor::Options reactor = client_reactor(),
                             uint64_t message_budget = 0)
      : options_(options), fake_(reactor), buffer_capacity_(reactor.buffer_capacity) {
    net::parse_address(options_.url.address, plan_.target, nullptr);
    plan_.message_budget = message_budget;
    run_.epoch_ns = uint64_t(net::monotonic_us()) * 1000;
    worker_ = std::make_unique<load::LoadWorker>(options_, plan_, run_, live_, fake_);
    fake_.attach(*worker_);
  }

  static FakeReactor::Options client_reactor() {
    FakeReactor::Options o;
    o.buffer_count = 16;
    o.buffer_capacity = 2048;
    o.clients = true;
    return o;
  }

  // A tick of the worker's reactor, after moving the clock `advance_ns` forward.
  void tick(uint64_t advance_ns = 0) {
    run_.epoch_ns -= advance_ns;
    worker_->on_tick(0);
  }
  uint64_t now_ns() const { return load::run_clock_ns(run_); }

  // What main() does at each phase change.
  void set_phase(load::RunPhase phase, uint64_t drain_wait_ns = 3'000'000'000) {
    if (phase == load::RunPhase::Running) run_.steady_start_ns.store(now_ns());
    if (phase == load::RunPhase::Draining) run_.drain_deadline_ns.store(now_ns() + drain_wait_ns);
    run_.phase.store(int(phase), std::memory_order_release);
    worker_->on_tick(0);
  }

  // Parses what the worker sent on t since the last call; rule breaks go to problems().
  Peer& read_client(net::Token t) {
    Peer& p = peer(t);
    const std::string& wire = fake_.at(t).wire;
    if (!p.head_seen) {
      const size_t end = wire.find("\r\n\r\n");
      if (end == std::string::npos) return p;
      p.head_seen = true;
      p.wire_read = end + 4;
      const std::string_view head(wire.data(), end + 4);
      const size_t at = head.find("Sec-WebSocket-Key: ");
      if (at == std::string_view::npos) {
        problem(t, "upgrade request without Sec-WebSocket-Key");
      } else {
        const size_t from = at + 19;
        p.key = std::string(head.substr(from, head.find("\r\n", from) - from));
      }
    }
    std::string_view rest;
    const std::vector<ServerFrame> frames = parse_frames(std::string_view(wire).substr(p.wire_read), &rest);
    p.wire_read = wire.size() - rest.size();
    for (const ServerFrame& f : frames) {
      if (!p.close_codes.empty()) problem(t, "a frame after the client's close frame");
      if (!f.masked) problem(t, "an unmasked client frame");
      if (f.rsv) problem(t, "a client frame with RSV bits");
      if (!f.fin) problem(t, "a fragmented client frame");
      if (f.opcode == 1 || f.opcode == 2) {
        p.data.push_back(f);
      } else if (f.opcode == 10) {
        ++p.pongs;
      } else if (f.opcode == 8) {
        if (f.payload.size() == 1 || f.payload.size() > 125) problem(t, "a bad close payload");
        const int code = f.payload.empty() ? -1 : int(f.close_code());
        if (code != -1 && !((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
                            (code >= 3000 && code <= 4999)))
          problem(t, "close code " + std::to_string(code) + " is not valid on the wire");
        p.close_codes.push_back(code);
      } else {
        problem(t, "client opcode " + std::to_string(f.opcode));
      }
    }
    return p;
  }

  // A valid 101 for the request seen on t (empty if none was seen yet).
  std::string upgrade_response(net::Token t) {
    Peer& p = read_client(t);
    if (p.key.empty()) return {};
    return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
           websocket_accept(p.key) + "\r\n\r\n";
  }

  // Delivers bytes in receive buffers of at most `chunk` bytes; false if not all could go.
  bool deliver(net::Token t, std::string_view bytes, size_t chunk = SIZE_MAX) {
    chunk = std::max<size_t>(1, std::min<size_t>(chunk, buffer_capacity()));
    while (!bytes.empty()) {
      const size_t n = std::min(chunk, bytes.size());
      if (!fake_.deliver(t, bytes.substr(0, n))) return false;
      bytes.remove_prefix(n);
    }
    return true;
  }

  // Answers the upgrade on t (the request must have been sent). False if it could not.
  bool upgrade(net::Token t) {
    const std::string response = upgrade_response(t);
    if (response.empty() || !deliver(t, response)) return false;
    peer(t).upgraded = true;
    return true;
  }

  // Connects, sends and answers the upgrade on every connection that is connecting.
  void open_all() {
    for (net::Token t = 0; t < fake_.socket_count(); ++t) {
      fake_.complete_connect(t, 0);
      fake_.drain_sends(t);
      if (fake_.can_receive(t) && !peer(t).upgraded) upgrade(t);
    }
  }

  // Echoes every client data frame sent so far on t, completing sends first. Returns how many.
  size_t echo_all(net::Token t) {
    size_t echoed = 0;
    for (int round = 0; round < 64; ++round) {
      fake_.drain_sends(t);
      Peer& p = read_client(t);
      if (p.data.empty()) break;
      while (!p.data.empty()) {
        const ServerFrame f = p.data.front();
        p.data.pop_front();
        if (!deliver(t, server_frame(f.opcode, f.payload))) return echoed;
        ++echoed;
      }
    }
    return echoed;
  }

  // Ends the run as main() does, the server behaving well from now on (answering close frames,
  // then ending TCP) while the clock moves a second per round. True when the worker stopped.
  bool finish_run(int max_rounds = 64) {
    if (run_.phase.load() < int(load::RunPhase::Draining)) set_phase(load::RunPhase::Draining, 0);
    for (int round = 0; round < max_rounds && !fake_.stopped(); ++round) {
      for (net::Token t = 0; t < fake_.socket_count(); ++t) {
        if (!fake_.at(t).open) continue;
        fake_.drain_sends(t);
        Peer& p = read_client(t);
        if (!p.close_codes.empty() && fake_.can_receive(t)) {
          const int code = p.close_codes.front();
          deliver(t, server_frame(8, code < 0 ? std::string() : close_payload(uint16_t(code))));
          fake_.end_stream(t, 0);
        }
      }
      tick(1'000'000'000);
      fake_.finish_closes();
    }
    return fake_.stopped();
  }

  Peer& peer(net::Token t) {
    if (t >= peers_.size()) peers_.resize(size_t(t) + 1);
    Peer& p = peers_[t];
    const uint64_t life = t < fake_.socket_count() ? fake_.at(t).life : 0;
    if (p.life != life) {
      p = Peer{};
      p.life = life;
    }
    return p;
  }

  size_t buffer_capacity() const { return buffer_capacity_; }
  FakeReactor& fake() { return fake_; }
  load::LoadWorker& worker() { return *worker_; }
  load::LiveCounters& live() { return live_; }
  load::SharedRun& run() { return run_; }
  const std::string& problems() const { return problems_; }

 private:
  void problem(net::Token t, const std::string& what) {
    if (problems_.size() < 4000) problems_ += "connection " + std::to_string(t) + ": " + what + "\n";
  }

  load::LoadOptions options_;
  load::WorkerPlan plan_;
  load::SharedRun run_;
  load::LiveCounters live_;
  FakeReactor fake_;  // outlives the worker (declared before it)
  size_t buffer_capacity_;
  std::unique_ptr<load::LoadWorker> worker_;
  std::vector<Peer> peers_;
  std::string problems_;
};

}  // namespace wsring::fakes
