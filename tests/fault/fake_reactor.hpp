// A net::Reactor without sockets, for driving a net::EventHandler (the echo server, or with
// Options::clients the load generator's worker) by hand: the test lends receive buffers it
// owns, decides when and how far each send completes, when a connect completes and how, and
// delivers end of stream and on_closed itself. It also checks the reactor contract from
// the handler's side (one send in flight per socket, every lent buffer released exactly
// once, no operation on a socket that is not open) and records each breach in violations.
//
// Used by the unit tests (engine_test, fault_injection_test) and the connection fuzz
// target; header-only so that the fuzz target can include it without the test library.
#pragma once

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "net/reactor.hpp"

namespace wsring::fakes {

struct FakeReactorOptions {
  uint32_t buffer_count = 64;
  uint32_t buffer_capacity = 4096;  // bytes after the headroom
  bool clients = false;             // connect() is allowed (a client: wsring-load's LoadWorker,
                                    // tests/fault/load_worker_harness.hpp); else a violation
};

class FakeReactor final : public net::Reactor {
 public:
  static constexpr uint8_t kPoison = 0xDD;  // written over a buffer when it is released
  using Options = FakeReactorOptions;

  struct Socket {
    int fd = -1;
    bool open = false;       // open() seen and on_closed not yet delivered
    bool closing = false;    // close() seen; on_closed pending
    bool reset = false;      // close(token, true)
    bool paused = false;
    bool write_shut = false;
    bool recv_ended = false;  // on_recv_end delivered
    bool connecting = false;  // connect() seen, complete_connect() not yet
    uint64_t life = 0;        // opened_count() when this life of the token began
    int close_calls = 0;
    int pause_calls = 0;
    int resume_calls = 0;
    int closed_deliveries = 0;  // on_closed calls for the current life of the token
    bool sending = false;
    std::vector<iovec> in_flight;  // copy of the iovecs of the send in flight
    std::string wire;              // every byte the handler got through, in order
  };

  explicit FakeReactor(Options options = {}) : options_(options) {
    buffers_.resize(options_.buffer_count);
    lent_.assign(options_.buffer_count, false);
    for (auto& b : buffers_) b = std::make_unique<uint8_t[]>(net::kRecvHeadroom + options_.buffer_capacity);
    for (uint32_t i = options_.buffer_count; i > 0; --i) free_.push_back(uint16_t(i - 1));
  }
  ~FakeReactor() override {
    for (Socket& s : sockets_)
      if (s.fd >= 0) ::close(s.fd);
  }

  void attach(net::EventHandler& handler) { handler_ = &handler; }

  // ---- net::Reactor
  const char* name() const override { return "fake"; }
  void listen(int) override { accepting_ = true; }
  void stop_accepting() override { accepting_ = false; }
  void open(net::Token t, int fd) override {
    Socket& s = socket(t);
    if (s.open) violation("open() of token " + std::to_string(t) + " that is still open");
    if (s.fd >= 0) ::close(s.fd);
    s = Socket{};
    s.fd = fd;
    s.open = true;
    last_opened_ = t;
    s.life = ++opened_;
  }
  void connect(net::Token t, int fd, const sockaddr*, socklen_t) override {
    if (!options_.clients) {
      violation("connect() of token " + std::to_string(t) + ": a server never connects");
      ::close(fd);
      return;
    }
    open(t, fd);  // the reactor owns the fd from here on, as after open()
    sockets_[t].connecting = true;
    ++connects_;
  }
  void pause_recv(net::Token t) override {
    if (!usable(t, "pause_recv")) return;
    sockets_[t].paused = true;
    ++sockets_[t].pause_calls;
  }
  void resume_recv(net::Token t) override {
    if (!usable(t, "resume_recv")) return;
    sockets_[t].paused = false;
    ++sockets_[t].resume_calls;
  }
  void send(net::Token t, const iovec* iov, int iov_count) override {
    if (!usable(t, "send")) return;
    Socket& s = sockets_[t];
    if (s.closing) violation("send() on token " + std::to_string(t) + " after close()");
    if (s.connecting) violation("send() on token " + std::to_string(t) + " before its connect completed");
    if (s.sending) violation("second send() in flight on token " + std::to_string(t));
    if (iov_count <= 0 || iov_count > IOV_MAX) violation("send() with iov_count " + std::to_string(iov_count));
    s.sending = true;
    s.in_flight.assign(iov, iov + std::max(iov_count, 0));
    ++sends_;
    send_order_.push_back(t);
  }
  void release_buffer(uint16_t id) override {
    if (id >= lent_.size() || !lent_[id]) {
      violation("release_buffer(" + std::to_string(id) + ") of a buffer that is not lent");
      return;
    }
    // The handler promises it is done with the memory: a send still using it is a bug.
    const uint8_t* begin = buffers_[id].get();
    const uint8_t* end = begin + net::kRecvHeadroom + options_.buffer_capacity;
    for (const Socket& s : sockets_) {
      if (!s.sending || s.closing) continue;
      for (const iovec& v : s.in_flight) {
        const auto* p = static_cast<const uint8_t*>(v.iov_base);
        if (v.iov_len && p < end && p + v.iov_len > begin)
          violation("release_buffer(" + std::to_string(id) + ") while a send in flight uses it");
      }
    }
    std::memset(buffers_[id].get(), kPoison, net::kRecvHeadroom + options_.buffer_capacity);
    lent_[id] = false;
    free_.push_back(id);
    ++released_;
  }
  void shutdown_write(net::Token t) override {
    if (!usable(t, "shutdown_write")) return;
    sockets_[t].write_shut = true;
  }
  void close(net::Token t, bool reset) override {
    if (!usable(t, "close")) return;
    Socket& s = sockets_[t];
    ++s.close_calls;
    if (s.closing) return;
    s.closing = true;
    s.reset = reset;
    s.connecting = false;  // cancelled: no on_connect will come
    s.sending = false;     // cancelled: no on_send will come
    s.in_flight.clear();
    pending_closed_.push_back(t);
  }
  // Records which sockets had a send in flight when the handler asked to start the turn's output.
  void start_queued() override {
    started_with_send_.clear();
    for (net::Token t = 0; t < sockets_.size(); ++t)
      if (!sockets_[t].in_flight.empty()) started_with_send_.push_back(t);
    ++queued_starts_;
  }
  size_t queued_starts() const { return queued_starts_; }
  bool send_was_started(net::Token t) const {
    return std::find(started_with_send_.begin(), started_with_send_.end(), t) != started_with_send_.end();
  }
  void run(net::EventHandler&) override { violation("run() called on the fake reactor"); }
  void stop() override { stopped_ = true; }
  uint32_t buffers_in_use() const override { return options_.buffer_count - uint32_t(free_.size()); }

  // ---- the test's side
  // The token the last open() used (on_accept opens synchronously).
  net::Token last_opened() const { return last_opened_; }
  uint64_t opened_count() const { return opened_; }

  // A new connection: hands the handler a real (harmless) fd, as on_accept requires, and
  // returns the token it opened, or -1 if it refused the connection. `listen_fd`: the listener
  // it came from (a TLS listener registered with the engine, say).
  int64_t accept(int listen_fd = -1) {
    const uint64_t before = opened_;
    int fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    handler_->on_accept(fd, listen_fd);
    return opened_ == before ? -1 : int64_t(last_opened_);
  }

  // Lends one buffer holding bytes (at most buffer_capacity) and delivers it. False, with
  // nothing delivered, if the socket cannot receive now (paused, ended, closing) or no
  // buffer is free.
  bool deliver(net::Token t, std::string_view bytes) {
    if (!can_receive(t) || free_.empty() || bytes.size() > options_.buffer_capacity || bytes.empty()) return false;
    const uint16_t id = free_.back();
    free_.pop_back();
    lent_[id] = true;
    ++lent_count_;
    uint8_t* data = buffers_[id].get() + net::kRecvHeadroom;
    std::memcpy(data, bytes.data(), bytes.size());
    handler_->on_recv(t, net::RecvBuffer{data, bytes.size(), options_.buffer_capacity, id});
    return true;
  }
  bool can_receive(net::Token t) const {
    if (t >= sockets_.size()) return false;
    const Socket& s = sockets_[t];
    return s.open && !s.closing && !s.paused && !s.recv_ended && !s.connecting;
  }

  // Completes the connect under way on t with 0 (connected) or -errno. Either way the socket
  // stays open: after a failure the handler is expected to close() it. False if none is under way.
  bool complete_connect(net::Token t, int result) {
    if (!connecting(t)) return false;
    sockets_[t].connecting = false;
    handler_->on_connect(t, result);
    return true;
  }
  bool connecting(net::Token t) const { return t < sockets_.size() && sockets_[t].connecting && !sockets_[t].closing; }
  bool buffer_free() const { return !free_.empty(); }

  // Completes the send in flight with min(its size, max_bytes) bytes: those bytes are read
  // from the iovecs now, as the kernel would, and appended to wire. False if none in flight.
  bool complete_send(net::Token t, size_t max_bytes = SIZE_MAX) {
    if (!sending(t)) return false;
    Socket& s = sockets_[t];
    size_t total = 0;
    for (const iovec& v : s.in_flight) total += v.iov_len;
    size_t n = std::min(total, max_bytes), left = n;
    for (const iovec& v : s.in_flight) {
      size_t take = std::min(left, v.iov_len);
      s.wire.append(static_cast<const char*>(v.iov_base), take);
      left -= take;
    }
    s.sending = false;
    s.in_flight.clear();
    handler_->on_send(t, int(n));
    return true;
  }
  // Completes every send, repeatedly, until none is in flight on t (a bounded number of rounds).
  void drain_sends(net::Token t, size_t max_rounds = 1000000) {
    for (size_t i = 0; i < max_rounds && complete_send(t); ++i) {
    }
  }
  bool fail_send(net::Token t, int error) {
    if (!sending(t)) return false;
    Socket& s = sockets_[t];
    s.sending = false;
    s.in_flight.clear();
    handler_->on_send(t, -error);
    return true;
  }
  bool sending(net::Token t) const { return t < sockets_.size() && sockets_[t].sending && !sockets_[t].closing; }
  size_t in_flight_bytes(net::Token t) const {
    size_t total = 0;
    if (sending(t))
      for (const iovec& v : sockets_[t].in_flight) total += v.iov_len;
    return total;
  }

  // End of stream (0) or a receive error (-errno), once per socket life.
  bool end_stream(net::Token t, int error = 0) {
    if (t >= sockets_.size()) return false;
    Socket& s = sockets_[t];
    if (!s.open || s.closing || s.recv_ended || s.connecting) return false;
    s.recv_ended = true;
    handler_->on_recv_end(t, error);
    return true;
  }

  // Delivers on_closed for every socket closed so far (and those closed meanwhile).
  void finish_closes() {
    for (size_t i = 0; i < pending_closed_.size(); ++i) {
      const net::Token t = pending_closed_[i];
      Socket& s = sockets_[t];
      if (s.fd >= 0) ::close(s.fd);
      s.fd = -1;
      s.open = false;
      ++s.closed_deliveries;
      handler_->on_closed(t);
    }
    pending_closed_.clear();
  }
  bool close_pending(net::Token t) const {
    return std::find(pending_closed_.begin(), pending_closed_.end(), t) != pending_closed_.end();
  }

  const Socket& at(net::Token t) { return socket(t); }
  Socket& mutable_at(net::Token t) { return socket(t); }
  size_t socket_count() const { return sockets_.size(); }
  uint64_t lent_count() const { return lent_count_; }
  uint64_t released_count() const { return released_; }
  uint64_t send_count() const { return sends_; }
  // The token of every send() so far, in the order they were started.
  const std::vector<net::Token>& send_order() const { return send_order_; }
  // The end of a reactor turn, as the real reactors signal it after each batch of events.
  bool end_turn() { return handler_->on_turn_end(); }
  uint64_t connect_count() const { return connects_; }
  bool accepting() const { return accepting_; }
  bool stopped() const { return stopped_; }
  const std::vector<std::string>& violations() const { return violations_; }
  std::string violations_text() const {
    std::string all;
    for (const std::string& v : violations_) all += v + "\n";
    return all;
  }

 private:
  Socket& socket(net::Token t) {
    if (t >= sockets_.size()) sockets_.resize(size_t(t) + 1);
    return sockets_[t];
  }
  bool usable(net::Token t, const char* what) {
    if (t < sockets_.size() && sockets_[t].open) return true;
    violation(std::string(what) + "() on token " + std::to_string(t) + " that is not open");
    return false;
  }
  void violation(std::string text) {
    if (violations_.size() < 100) violations_.push_back(std::move(text));
  }

  Options options_;
  net::EventHandler* handler_ = nullptr;
  std::vector<std::unique_ptr<uint8_t[]>> buffers_;  // headroom + capacity each, allocated apart
  std::vector<bool> lent_;
  std::vector<uint16_t> free_;
  std::vector<Socket> sockets_;
  std::vector<net::Token> pending_closed_;
  std::vector<std::string> violations_;
  net::Token last_opened_ = 0;
  uint64_t opened_ = 0;
  uint64_t lent_count_ = 0;
  uint64_t released_ = 0;
  uint64_t sends_ = 0;
  std::vector<net::Token> send_order_;
  std::vector<net::Token> started_with_send_;  // at the last start_queued()
  size_t queued_starts_ = 0;
  uint64_t connects_ = 0;
  bool accepting_ = false;
  bool stopped_ = false;
};

}  // namespace wsring::fakes
