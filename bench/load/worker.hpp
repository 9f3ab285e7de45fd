// One load thread: its share of the connections on its own reactor. Each connection is one
// state machine (bench/load/connection_state.hpp; the table with actions is in bench/README.md):
// Idle -> Connecting -> [TlsHandshaking ->] Handshaking -> Open -> CloseSent -> Closed -> Dying ->
// Idle (and round again with --handshake-only). Follow one message: top_up() writes masked
// frames into the connection's filling buffer, flush() hands the buffer to the reactor in one
// send, on_recv() -> deliver() -> handle_frames() checks each echo in place in the receive buffer
// and records its latency, then top_up() refills the window.
// wss:// puts a TlsLink under that (worker_tls.cpp): on_recv decrypts into a per-worker
// plaintext buffer and hands it to deliver(); flush encrypts the filling buffer and sends the
// ciphertext instead. ws:// connections have no TlsLink and take none of its branches.
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <deque>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bench/load/connection_state.hpp"
#include "bench/load/options.hpp"
#include "bench/load/payload.hpp"
#include "bench/load/rate_scheduler.hpp"
#include "bench/load/scenario_pubsub.hpp"
#include "bench/load/scenario_shootout.hpp"
#include "bench/load/size_mix.hpp"
#include "bench/load/stats.hpp"
#include "bench/load/timeline.hpp"
#include "bench/load/tls_link.hpp"
#include "core/client_handshake.hpp"
#include "core/message_reader.hpp"
#include "net/reactor.hpp"
#include "net/socket.hpp"
#include "server/deflate_streams.hpp"

namespace wsring::load {

// The run's phase, set by the main thread, seen by the workers at their next tick (1 ms).
enum class RunPhase : int {
  Connecting = 0,  // opening the connections (with --ramp-up, traffic starts as each one opens)
  Running = 1,     // all open (or failed): the measured window; traffic starts here
  Draining = 2,    // no new messages; wait a bounded time for the echoes, then close
  Abort = 3,       // reset whatever is still open, now
};

struct SharedRun {
  std::atomic<int> phase{int(RunPhase::Connecting)};
  std::atomic<uint64_t> steady_start_ns{0};    // run clock when Running began
  std::atomic<uint64_t> drain_deadline_ns{0};  // run clock after which echoes are no longer awaited
  // Set (before Draining) when the connections did not all open within the run's --duration:
  // handshakes still pending then are counted as timeouts, not merely cut short.
  std::atomic<bool> connect_overdue{false};
  uint64_t epoch_ns = 0;                       // CLOCK_MONOTONIC at the run's start: run clock zero
};

struct WorkerPlan {
  uint32_t index = 0;        // this worker's number, 0..workers-1
  uint32_t workers = 1;
  uint64_t message_budget = 0;  // --messages share; 0: unlimited
  net::SocketAddress target;
  std::vector<net::SocketAddress> sources;  // bind() addresses, port 0
  server::TlsContext tls;  // wss://: the client context (one SSL_CTX shared by every worker)
  IntervalRecorder* latency_intervals = nullptr;  // the timeline's latency per second (main's)
  ShootoutBoard* shootout = nullptr;  // --scenario shootout: the broadcasts (main's)
  PubsubBoard* pubsub = nullptr;      // --scenario pubsub: subscriptions and deliveries (main's)
};

// Bounds on waiting, so that every run ends (the handshake's is --handshake-timeout).
constexpr uint64_t kCloseTimeoutNs = 3'000'000'000;       // our close frame -> the server's
constexpr uint64_t kEofGraceNs = 1'000'000'000;           // both close frames -> the server's FIN
constexpr uint32_t kMaxPendingHandshakes = 1024;          // per worker, connects not yet upgraded
// The largest control frame, and the room every write keeps free in a filling buffer: data frames
// leave room for a pong and a close, a pong leaves room for a close, so that a close always fits.
constexpr uint32_t kControlFrameMax = uint32_t(core::kMaxFrameHeaderSize + core::kMaxControlPayload);

uint64_t run_clock_ns(const SharedRun& run);
uint64_t realtime_clock_ns();  // CLOCK_REALTIME in ns: the clock of the stamps servers push

// --rate: a message written into its send buffer more than this after its intended time is late.
constexpr uint64_t kLateSendNs = 1'000'000;
// ring_size_'s top bit: the message was sent as text (--text-ratio); sizes stay below 2^28.
constexpr uint32_t kRingText = 0x8000'0000u;
// ring_size_'s next bit: --match id: the message's reply came (perhaps ahead of older ones).
constexpr uint32_t kRingAnswered = 0x4000'0000u;  // nanoseconds since run.epoch_ns

class LoadWorker final : public net::EventHandler {
 public:
  static constexpr size_t kPlainSize = 64 * 1024;  // wss://: plaintext decrypted per read() call

  LoadWorker(const LoadOptions& options, const WorkerPlan& plan, SharedRun& run, LiveCounters& live,
             net::Reactor& reactor);
  ~LoadWorker() override;

  // Runs until every connection has closed after the run ended (or Abort).
  void run();
  // Totals, valid after run() returned.
  WorkerTotals take_totals();

  static uint32_t local_count(uint32_t connections, uint32_t workers, uint32_t index) {
    return index < connections ? (connections - index + workers - 1) / workers : 0;
  }

  // net::EventHandler
  void on_accept(int fd, int /*listen_fd*/) override;
  void on_connect(net::Token token, int result) override;
  void on_recv(net::Token token, const net::RecvBuffer& buffer) override;
  void on_recv_end(net::Token token, int error) override;
  void on_send(net::Token token, int result) override;
  void on_closed(net::Token token) override;
  void on_tick(uint64_t now_ms) override;
  // --rate: the reactor wakes when the next message is due (no polling between sends).
  uint64_t wake_at_us() const override;

 private:
  struct Connection {
    ConnState state = ConnState::Idle;  // changed only by move()
    bool first_attempt = true;    // its outcome counts towards connect_done
    bool send_in_flight = false;
    bool pong_queued = false;     // one pong per filling buffer is enough (RFC 6455 §5.5.3)
    bool msg_active = false;      // an echo is being received
    bool msg_bad = false;
    bool msg_text = false;        // --text-ratio: the type of the message being answered
    bool retired = false;         // --stage: closed (or closing) because the target went below it
    std::string reply_head;       // --match id: the first bytes of the reply being received
    uint8_t fill = 0;             // index of the buffer taking new frames; the other one is in flight
    uint32_t local = 0;
    uint32_t global_id = 0;
    uint32_t fill_len = 0;
    uint32_t fly_len = 0;
    uint32_t fly_off = 0;
    uint64_t next_seq = 0;        // next message to write
    uint64_t wire_seq = 0;        // messages below this were handed to the reactor: only they can be echoed
    uint64_t acked_seq = 0;       // next echo expected
    uint64_t due_seq = 0;         // --rate: messages below this are due
    uint64_t started_ns = 0;      // connect start
    uint64_t upgrade_ns = 0;      // the upgrade request written
    uint64_t deadline_ns = 0;     // handshake, close or end-of-stream deadline
    uint64_t msg_offset = 0;      // payload bytes of the echo in progress seen so far
    uint64_t msg_expected = 0;    // its size as sent
    uint8_t expect_stamp[kStampSize] = {};
    uint8_t* buf[2] = {nullptr, nullptr};
    iovec iov{};
    char key[core::kClientKeySize] = {};
    core::MessageReader reader{core::Role::Client};
    std::string head;  // an upgrade response that spans receives (rare)
    std::unique_ptr<TlsLink> tls;  // wss:// only
    // permessage-deflate (--deflate), when the server agreed.
    bool deflate = false;
    uint8_t deflate_window_bits = 15;                  // the window we may compress with
    core::Opcode inflate_opcode = core::Opcode::Text;  // the compressed echo being gathered
    std::vector<uint8_t> inflate_pending;
    std::unique_ptr<server::InflateStream> inflater;   // the server keeps context: ours too
    std::unique_ptr<server::DeflateStream> deflater;   // --deflate-takeover and allowed: our context
  };

  // The one place a connection changes state; an illegal move is a bug (asserted).
  void move(Connection& c, ConnEvent event);

  // Connecting.
  void start_connects(uint64_t now);
  void start_connect(Connection& c, uint64_t now);
  void queue_upgrade_request(Connection& c, uint64_t now);
  void handle_handshake(net::Token t, Connection& c, uint8_t* data, size_t size, uint64_t now);
  void resolve_first_attempt(Connection& c);

  // Received bytes (plaintext), by state: the 101, then frames.
  void deliver(net::Token t, Connection& c, uint8_t* data, size_t size, uint64_t now);

  // TLS (worker_tls.cpp).
  void start_tls(net::Token t, Connection& c, uint64_t now);
  void receive_tls(net::Token t, Connection& c, const net::RecvBuffer& b, uint64_t now);
  void secured(Connection& c, uint64_t now);
  void flush_tls(net::Token t, Connection& c);
  void fail_tls(net::Token t, Connection& c, const std::string& why = std::string());

  // Messages.
  bool sending_allowed() const;
  void top_up(Connection& c, uint64_t now);
  bool write_message(Connection& c, uint64_t stamp_ns);  // false if it does not fit (never expected)
  void handle_frames(net::Token t, Connection& c, uint8_t* data, size_t size, uint64_t now);
  bool begin_echo(Connection& c, core::Opcode opcode);  // false: it answers nothing sent (the connection failed)
  void check_chunk(Connection& c, const uint8_t* data, size_t size);
  void finish_echo(Connection& c, uint64_t now);
  void pump_rate(uint64_t now);
  void queue_pong(Connection& c, const uint8_t* payload, size_t size);
  // Bytes the filling buffer can still take while keeping `reserve` bytes free.
  uint32_t room(const Connection& c, uint32_t reserve) const {
    return buffer_capacity_ - c.fill_len > reserve ? buffer_capacity_ - c.fill_len - reserve : 0;
  }
  bool queue_close(Connection& c, uint16_t code);  // false if it does not fit (never expected)

  // permessage-deflate (worker_deflate.cpp).
  bool agree_deflate(net::Token t, Connection& c, std::string_view extensions);  // false: the connection failed
  bool write_deflated(Connection& c, size_t size, const Stamp& stamp, core::Opcode opcode);
  bool on_compressed_echo(net::Token t, Connection& c, const core::ReadEvent& ev, uint64_t now);

  // Output.
  void flush(net::Token t, Connection& c);
  void send_in_flight_buffer(net::Token t, Connection& c);

  // Ending.
  void begin_close(net::Token t, Connection& c, uint64_t now);
  void fail(net::Token t, Connection& c, ErrorKind kind, const std::string& detail);
  // The server broke the protocol: count it, close with `code` (RFC 6455 §7.1.7), ignore its input.
  void fail_protocol(net::Token t, Connection& c, ErrorKind kind, uint16_t code, const std::string& detail);
  void lose_outstanding(Connection& c);
  void finish(net::Token t, Connection& c, bool reset);
  void close_socket(net::Token t, Connection& c, bool reset);
  void begin_drain(uint64_t now);
  void scan_deadlines(uint64_t now);
  void abort_all();
  void update_flags();
  void count_error(ErrorKind kind, const std::string& detail);

  uint64_t now_ns() const { return run_clock_ns(run_); }
  uint64_t outstanding(const Connection& c) const { return c.next_seq - c.acked_seq; }

  const LoadOptions& options_;
  WorkerPlan plan_;
  SharedRun& run_;
  LiveCounters& live_;
  net::Reactor& reactor_;
  WorkerTotals totals_;

  PayloadPattern pattern_;
  core::MaskKeySource masks_;
  std::unique_ptr<RateScheduler> scheduler_;
  std::vector<Connection> connections_;
  std::unique_ptr<uint8_t[]> buffer_slab_;      // two send buffers per connection
  std::unique_ptr<uint8_t[]> plain_;            // wss://: decrypted bytes of one receive, kPlainSize
  // Per connection, `pipeline` slots describing the outstanding messages: stamp time (latency is
  // measured from it), encoded stamp (what the echo must start with) and size.
  std::unique_ptr<uint64_t[]> ring_time_;
  std::unique_ptr<uint8_t[]> ring_stamp_;
  std::unique_ptr<uint32_t[]> ring_size_;
  uint32_t buffer_capacity_ = 0;
  uint64_t handshake_timeout_ns_;
  uint32_t pipeline_;
  core::Opcode opcode_;
  core::ReaderLimits reader_limits_;

  // --deflate: one deflater per window size (reset per message: no context takeover from us),
  // one inflater for servers without context takeover, and the buffers they work in.
  std::unique_ptr<server::DeflateStream> deflaters_[7];
  std::unique_ptr<server::InflateStream> inflater_;
  std::vector<uint8_t> deflate_plain_, deflate_packed_;

  std::vector<uint32_t> ready_;  // idle connections waiting to connect (popped from the back)
  uint64_t next_connect_ns_ = 0;
  uint64_t connect_interval_ns_ = 0;
  uint64_t connect_attempts_ = 0;
  uint32_t pending_handshakes_ = 0;
  uint32_t unresolved_first_attempts_ = 0;
  uint32_t live_connections_ = 0;  // not Idle
  uint64_t sent_ = 0;              // messages written (for the budget)
  uint64_t outstanding_total_ = 0;
  uint64_t rng_state_;
  uint64_t next_scan_ns_ = 0;

  // ---- any server, mixes, open loop, reconnects ----
  std::vector<std::string_view> subprotocols_;  // views of options_.upgrade.subprotocols
  std::vector<core::HttpHeader> extra_headers_;  // --header, Authorization, the deflate offer
  std::string deflate_offer_;                    // --deflate: the Sec-WebSocket-Extensions value
  std::string authorization_;                    // "Bearer <token>": never printed
  TextRatio text_ratio_;
  bool mixed_types_ = false;                     // --text-ratio given
  // --reconnect: per connection, consecutive attempts that did not upgrade, and when to retry.
  std::vector<uint32_t> reconnect_failures_;
  std::vector<uint64_t> reconnect_at_ns_;
  std::vector<uint32_t> reconnect_waiting_;      // locals waiting for their back-off
  void schedule_reconnect(Connection& c, uint64_t now);
  void start_due_reconnects(uint64_t now);
  void complete_unanswered(Connection& c);       // --match none: the send holding them completed
  void count_unpumped(uint64_t now);             // --rate, --stage: due in the window, never taken up
  // --message/--messages-file and --match id (worker_messages.cpp).
  std::string rendered_;                         // the message being written
  void render_message(Connection& c, uint64_t stamp_ns);
  void finish_reply_by_id(Connection& c, uint64_t now);
  uint64_t answered_early(const Connection& c) const;  // --match id: outstanding, but answered already
  // --stage (worker_stages.cpp): connections follow the plan's target, messages its rate.
  const StagePlan* stages_ = nullptr;
  bool staged_rate_ = false;
  uint64_t stage_start_ns_ = 0;       // run clock of the plan's time zero (the window's start)
  uint32_t stage_target_ = 0;         // this worker's connections targeted now
  uint64_t stage_next_message_ = 0;   // the next global message of this worker (index, index + workers, ...)
  uint64_t stage_next_ns_ = ~uint64_t{0};  // when it is due (run clock)
  std::vector<std::deque<uint64_t>> stage_due_;  // per connection: due times of messages not yet written
  void start_stages(uint64_t now);
  void apply_stage_connections(uint64_t now);
  void pump_staged(uint64_t now);
  uint64_t stage_message_ns(uint64_t message) const;
  // ---- end ----
  // --scenario push (worker_scenario.cpp): per connection, the message being received.
  std::unique_ptr<PushStreams> push_;
  void on_push_chunk(Connection& c, const core::ReadEvent& ev, uint64_t now);
  // A delivery stamped with its send time (CLOCK_REALTIME): counted, its latency recorded in the window.
  void record_delivery(uint64_t send_realtime_ns, uint64_t now);
  // Keeps the first `window` bytes of the message in c.reply_head; true at the message's end.
  bool gather_reply(Connection& c, const core::ReadEvent& ev, size_t window);
  // --scenario shootout (worker_shootout.cpp): the clients follow the board's target; the
  // broadcasts this worker is to send go out on its open clients in turn; every client checks
  // that it receives each broadcast once (its tracker counts from the first one after it opened).
  ShootoutBoard* shootout_ = nullptr;
  uint32_t shootout_target_ = 0;       // this worker's clients targeted now
  uint64_t shootout_cursor_ = 0;       // broadcasts below this id were looked at
  uint32_t shootout_next_sender_ = 0;  // round-robin over the targeted clients
  std::vector<SequenceTracker> shootout_seen_;
  std::vector<uint64_t> shootout_base_;  // per client: the first broadcast id it is to receive
  SequenceCounts shootout_counts_;
  void shootout_tick(uint64_t now);
  void shootout_opened(Connection& c);
  void send_broadcast(uint64_t id, BroadcastSlot& slot);
  void on_shootout_chunk(Connection& c, const core::ReadEvent& ev, uint64_t now);
  void count_stray(Connection& c, const std::string& why);
  // --scenario pubsub (worker_pubsub.cpp): every connection subscribes to its topic once open;
  // the publishers among this worker's connections send the run's messages that are theirs.
  PubsubBoard* pubsub_ = nullptr;
  uint64_t pubsub_next_ = 0;                // the next message number to look at
  std::vector<SequenceTracker> pubsub_seen_;  // per connection: its topic's sequence numbers
  std::vector<uint8_t> pubsub_subscribed_;  // per connection: its SUB was acknowledged
  void pubsub_opened(Connection& c);
  void pubsub_tick(uint64_t now);
  void on_pubsub_chunk(Connection& c, const core::ReadEvent& ev, uint64_t now);
  bool write_text_or_binary(Connection& c, core::Opcode opcode, const uint8_t* payload, size_t size);
  bool running_ = false;       // the run reached RunPhase::Running
  bool rate_started_ = false;
  bool draining_ = false;
  bool aborted_ = false;
  bool stopped_ = false;
};

// On the path of every receive and every send, ws:// and wss:// alike: defined here so that both
// worker.cpp and worker_tls.cpp inline them and ws:// pays no call for the TLS layer's sake.
inline void LoadWorker::deliver(net::Token t, Connection& c, uint8_t* data, size_t size, uint64_t now) {
  if (c.state == ConnState::Handshaking) {
    handle_handshake(t, c, data, size, now);
  } else if (reads_frames(c.state)) {
    handle_frames(t, c, data, size, now);
    if (c.state == ConnState::Open) {
      if (draining_ && outstanding(c) == 0) begin_close(t, c, now);
      top_up(c, now);
      flush(t, c);
    }
    update_flags();
  }
}

inline void LoadWorker::send_in_flight_buffer(net::Token t, Connection& c) {
  c.iov.iov_base = (c.tls ? c.tls->flying.data() : c.buf[c.fill ^ 1]) + c.fly_off;
  c.iov.iov_len = c.fly_len - c.fly_off;
  c.send_in_flight = true;
  reactor_.send(t, &c.iov, 1);
}

}  // namespace wsring::load
