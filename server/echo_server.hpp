// The echo server of one reactor thread: the connection state machine
// (handshaking -> open -> closing -> closed) composed from core/ (the protocol) and net/
// (the reactor). Read on_recv() -> echo_frames() -> queue_segment() -> start_send() to follow
// one message from the completion to the send.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/buffer_pool.hpp"
#include "core/handshake.hpp"
#include "core/http_request.hpp"
#include "core/message_reader.hpp"
#include "net/reactor.hpp"
#include "net/timer_wheel.hpp"
#include "server/config.hpp"
#include "server/log.hpp"

namespace wsring::server {

// Counters of one reactor thread; read by the owning thread at exit.
struct ServerStats {
  uint64_t accepted = 0;
  uint64_t refused_over_limit = 0;
  uint64_t upgraded = 0;
  uint64_t http_errors = 0;
  uint64_t pages_served = 0;
  uint64_t messages_echoed = 0;
  uint64_t protocol_errors = 0;
  uint64_t handshake_timeouts = 0;
  uint64_t idle_timeouts = 0;
  uint64_t send_timeouts = 0;
  uint64_t pool_exhausted = 0;
  uint64_t receives = 0;  // receive buffers handed to the server
  uint64_t sends = 0;     // sends submitted
  uint64_t spills = 0;    // times a full peer socket made us copy its pending output aside

  ServerStats& operator+=(const ServerStats& o);
  std::string summary() const;  // one line for the log
};

// State shared by all reactor threads of one process (read-mostly).
struct SharedState {
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> connections{0};  // open sockets across threads, for --max-connections
};

class EchoServer final : public net::EventHandler {
 public:
  EchoServer(const Config& config, net::Reactor& reactor, int listen_fd, SharedState& shared, const Logger& log);
  ~EchoServer() override;

  // Serves until shared.stop is set and every connection has closed (or the close timeout
  // passed). Returns when the reactor has stopped.
  void run();
  const ServerStats& stats() const { return stats_; }
  size_t open_connections() const { return live_; }

  // net::EventHandler
  void on_accept(int fd) override;
  void on_recv(net::Token token, const net::RecvBuffer& buffer) override;
  void on_recv_end(net::Token token, int error) override;
  void on_send(net::Token token, int result) override;
  void on_closed(net::Token token) override;
  void on_tick(uint64_t now_ms) override;

 private:
  enum class State : uint8_t { Free, Handshaking, Open, Closing };

  // A piece of output. Exactly one of ring_id / pool_buffer says what to give back once it
  // has been sent (or neither, for static data).
  struct Segment {
    const uint8_t* data;
    uint32_t size;
    int32_t ring_id;       // receive buffer to release, or -1
    uint8_t* pool_buffer;  // write-pool buffer to release, or nullptr
  };

  // Output of a connection that has something to send; lent from a free list, so idle
  // connections own none.
  struct SendQueue {
    std::vector<Segment> segments;
    size_t head = 0;             // first unsent segment
    std::vector<iovec> iov;      // the send in flight
    // When the peer's socket is full the pending bytes are copied here and their receive
    // buffers go back to the ring: a peer that does not read pins no receive buffer. Its
    // capacity is reserved up front, so appending never moves bytes a send points at.
    std::vector<uint8_t> spill;
    bool stalled = false;
    uint64_t queued_bytes = 0;   // unsent bytes, in flight included
    uint64_t last_progress_ms = 0;  // when the peer last accepted bytes (for --send-timeout)
    bool in_flight = false;
  };

  struct Connection {
    net::TimerLink timer;  // first member: a fired link is cast back to its Connection
    net::Token token = 0;
    core::MessageReader reader{core::Role::Server};
    SendQueue* out = nullptr;
    uint8_t* gather = nullptr;  // a request head that spans receive buffers (slow path)
    uint64_t last_activity_ms = 0;
    uint32_t gather_size = 0;
    State state = State::Free;
    bool recv_paused = false;
    bool ping_outstanding = false;
    bool close_queued = false;   // our close frame (or final HTTP response) is queued: no more output
    bool write_shut = false;
    bool peer_done = false;      // peer's close frame or end of stream seen: nothing more will come
    bool input_broken = false;   // a protocol error: the rest of the stream is discarded unparsed
    bool closing_fd = false;     // reactor.close() called; waiting for on_closed
  };

  Connection& conn(net::Token t) { return connections_[t]; }

  // Handshake.
  void handle_handshake(net::Token t, Connection& c, const net::RecvBuffer& b);
  // Returns true when the request was complete (answered), false when more bytes are needed.
  bool answer_request(net::Token t, Connection& c, uint8_t* data, size_t size, bool* frames_follow,
                      size_t* consumed);
  void send_http_error(net::Token t, Connection& c, int status, std::string_view body, bool version_mismatch);

  // Frames.
  void echo_frames(net::Token t, Connection& c, uint8_t* data, size_t size, int32_t ring_id, uint8_t* pool_buffer);
  void discard_until_close(net::Token t, Connection& c, uint8_t* data, size_t size);
  bool queue_control(net::Token t, Connection& c, core::Opcode opcode, const uint8_t* payload, size_t size);
  void queue_close(net::Token t, Connection& c, uint16_t code, std::string_view reason);

  // Output.
  void queue_segment(net::Token t, Connection& c, const Segment& s);
  void start_send(net::Token t, Connection& c);
  void release_segment(const Segment& s);
  void spill(SendQueue& q);
  bool append_to_spill(SendQueue& q, const Segment& s);
  void check_backpressure(net::Token t, Connection& c);
  void maybe_finish(net::Token t, Connection& c);

  // Life cycle.
  void close_now(net::Token t, Connection& c, bool abort = false);
  void schedule_timer(Connection& c, uint64_t now_ms);
  void on_timer(net::Token t, Connection& c, uint64_t now_ms);
  void begin_shutdown(uint64_t now_ms);

  const Config& config_;
  net::Reactor& reactor_;
  int listen_fd_;
  SharedState& shared_;
  const Logger& log_;
  ServerStats stats_;

  core::RequestLimits request_limits_;
  core::UpgradeRequest request_;  // reused: its 256 header slots are 8 KiB, too much to zero per request
  std::vector<std::string_view> subprotocol_views_;
  std::vector<std::string_view> origin_views_;
  core::HandshakePolicy policy_;
  std::string page_response_;  // the whole HTTP response carrying the HTML echo client

  // The pools are declared before the connections: readers give buffers back when destroyed.
  core::BufferPool write_pool_;   // 101 responses, HTTP errors, pongs and closes that are not in place
  core::BufferPool gather_pool_;  // request heads that span receive buffers
  std::deque<Connection> connections_;  // indexed by token; a deque keeps addresses stable
  std::vector<net::Token> free_tokens_;
  std::vector<std::unique_ptr<SendQueue>> all_queues_;
  std::vector<SendQueue*> free_queues_;
  net::TimerWheel timers_;
  size_t live_ = 0;
  bool shutting_down_ = false;
  uint64_t shutdown_deadline_ms_ = 0;
};

}  // namespace wsring::server
